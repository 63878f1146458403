"""Executive page: headline KPIs with period-over-period change and the daily trend."""

import altair as alt
import polars as pl
import streamlit as st

from apps.streamlit.data import MartNotPublished, kpi_summary, read_mart
from core.settings import get_settings

# metric -> (card label, card format); the trend chart shows daily values, so it says "daily".
LABELS = {
    "dau": ("Daily active users (avg)", "{:,.0f}"),
    "new_users": ("New users", "{:,.0f}"),
    "revenue": ("Net revenue (USD)", "${:,.0f}"),
    "workouts_completed": ("Workouts completed", "{:,.0f}"),
}

st.title("Executive overview")

try:
    daily = read_mart(get_settings().gold_dir, "exec_daily_kpis").sort("kpi_date")
except MartNotPublished as exc:
    st.warning(str(exc))
    st.stop()

if daily.is_empty():
    st.info("The KPI mart is empty: no events have been ingested yet.")
    st.stop()

period = st.segmented_control(
    "Compare the last",
    options=[7, 14, 28],
    default=7,
    format_func=lambda d: f"{d} days",
    key="period",
)
period = period or 7
st.caption(
    f"Data from {daily['kpi_date'].min()} to {daily['kpi_date'].max()} (UTC). "
    f"Each card compares the last {period} days with the {period} days before."
)

for column, kpi in zip(st.columns(len(LABELS)), kpi_summary(daily, period), strict=True):
    label, fmt = LABELS[kpi.name]
    delta = None if kpi.change is None else f"{kpi.change:+.1%}"
    column.metric(label, fmt.format(kpi.current), delta=delta)

st.subheader("Daily trend")
TREND_LABELS = {
    "dau": "Daily active users",
    "new_users": "New users per day",
    "revenue": "Net revenue per day (USD)",
    "workouts_completed": "Workouts completed per day",
}
metric = st.selectbox(
    "Metric", options=list(TREND_LABELS), format_func=TREND_LABELS.get, key="trend_metric"
)
chart = (
    alt.Chart(daily.select("kpi_date", pl.col(metric).alias("value")).to_pandas())
    .mark_line(point=True)
    .encode(
        x=alt.X("kpi_date:T", title="Day (UTC)"),
        y=alt.Y("value:Q", title=TREND_LABELS[metric]),
        tooltip=["kpi_date:T", alt.Tooltip("value:Q", format=",.2f")],
    )
    .properties(height=320)
)
st.altair_chart(chart, use_container_width=True)

with st.expander("Daily figures"):
    st.dataframe(daily.to_pandas(), hide_index=True, use_container_width=True)
