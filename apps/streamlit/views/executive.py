"""Executive overview: the headline KPIs against target and the comparison period, the revenue
and growth trends, acquisition by channel, the biggest movers with what drove them, and the open
alerts on these KPIs. Every number comes from the query layer (metrics defined in dbt)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import charts
from analytics.insights import Mover, best_attribution, rank_movers
from analytics.periods import COMPARE_MODES, shifted_onto
from apps.streamlit.alerts_panel import open_kpi_alerts
from apps.streamlit.components.annotations import chart_notes
from apps.streamlit.components.cards import card_for, kpi_card
from apps.streamlit.components.layout import (
    breadcrumb,
    empty_state,
    page_header,
    show_chart,
    unfiltered_note,
)
from apps.streamlit.components.page_tools import page_tools
from apps.streamlit.components.state import SEGMENT_LABELS, global_filters
from apps.streamlit.queries import data_bounds, kpi_targets, query_layer, segment_options

PAGE = "executive"
KPIS = (
    "dau",
    "new_users",
    "net_revenue",
    "mrr",
    "subscriber_churn_rate",
    "week1_retention",
    "workouts_completed",
    "recommendation_acceptance_rate",
)
TREND = ("net_revenue", "new_users", "dau")

ql = query_layer()
bounds = data_bounds(ql)
if bounds is None:
    page_header("Executive overview", "How is the business doing against its targets?")
    empty_state("No published data yet: run `pulse materialize` (or `make demo`).")
    st.stop()
first_day, last_day, freshness = bounds
page_header(
    "Executive overview",
    "How is the business doing this period, against its targets and the period before?",
    freshness,
)
view = global_filters(first_day, last_day, segment_options(freshness.publication_id))
breadcrumb(view)
page_tools(view, PAGE)
period, comparison = view.effective_period, view.comparison
query = {"start": period.start, "end": period.end, "filters": view.filters, "page": PAGE}

totals = ql.metrics(KPIS, compare=view.compare_arg, **query)
# Sparklines per day for the metrics defined per day (churn and retention are monthly/weekly).
daily_kpis = [n for n in KPIS if totals.info(n).time_grain == "day"]
daily = ql.metrics(daily_kpis, grain="day", **query)
targets = kpi_targets()
series = daily.combined().sort("period")

st.caption(view.describe())
unfiltered_note(totals)

cards = [
    card_for(
        totals,
        name,
        target=targets.get(name),
        trend=series[name].to_list() if name in series.columns else (),
    )
    for name in KPIS
]


@st.dialog("Breakdown", width="large")
def breakdown(name: str) -> None:
    """A KPI by each segment for the page's view; a bar click drills the page into it."""
    info = totals.info(name)
    st.markdown(f"**{info.label}** · {view.describe()}")
    unit = charts.unit_of(info.unit, info.format)
    for segment, label in SEGMENT_LABELS.items():
        if segment in view.filters or segment not in info.segments:
            continue
        frame = ql.metrics([name], group_by=[segment], **query).frame.drop_nulls(segment)
        if frame.is_empty():
            continue
        frame = frame.with_columns(pl.col(segment).cast(pl.String))
        show_chart(
            charts.bar_chart(
                frame,
                x=segment,
                y=name,
                title=f"by {label.lower()}",
                unit=unit,
                horizontal=True,
                height=max(120, 28 * frame.height),
                select=f"bd_{segment}",
            ),
            key=f"breakdown_{name}_{segment}",
            selection=f"bd_{segment}",
            drill={segment: segment},
        )
    if not info.segments:
        st.info("This metric is not split by segment in the data.")


grid = st.grid(4, key="kpi_cards")
for card in cards:
    with grid:
        kpi_card(card, key=card.name, on_drill=lambda name=card.name: breakdown(name))

st.subheader("Revenue and growth")
trend_metric = (
    st.segmented_control(
        "Trend",
        options=list(TREND),
        default="net_revenue",
        format_func=lambda m: totals.info(m).label,
        key="trend",
        bind="query-params",
    )
    or "net_revenue"
)
info = totals.info(trend_metric)
current = series.select(pl.col("period").alias("day"), pl.col(trend_metric).alias("value"))
overlay = None
if comparison is not None:
    before = ql.metrics(
        [trend_metric],
        grain="day",
        start=comparison.start,
        end=comparison.end,
        filters=view.filters,
        page=PAGE,
        live=False,
    ).frame.sort("period")
    overlay = before.select(
        shifted_onto("period", comparison, period).alias("day"),
        pl.col(trend_metric).alias("value"),
    )
show_chart(
    charts.line_chart(
        current,
        x="day",
        annotations=chart_notes(PAGE),
        y="value",
        title=f"{info.label} per day",
        y_title=info.label,
        unit=charts.unit_of(info.unit, info.format),
        comparison=overlay,
        comparison_label=COMPARE_MODES[view.compare].lower(),
        area=trend_metric == "net_revenue",
        select="trend_day",
    ),
    key="trend_chart",
    selection="trend_day",
    drill={"day": "day"},
)
st.caption("Click a day to narrow the page to it; the breadcrumb above undoes it.")

left, right = st.columns(2)
with left:
    by_channel = ql.metrics(["new_users"], group_by=["acquisition_channel"], **query).frame
    if by_channel.is_empty():
        empty_state("No signups in this period.")
    else:
        show_chart(
            charts.bar_chart(
                by_channel.sort("new_users", descending=True),
                x="acquisition_channel",
                y="new_users",
                title="New users by acquisition channel",
                unit="count",
                horizontal=True,
                select="channel",
            ),
            key="channel_chart",
            selection="channel",
            drill={"acquisition_channel": "acquisition_channel"},
        )
with right:
    by_stream = ql.metrics(["subscription_revenue", "program_revenue"], grain="week", **query).frame
    long = by_stream.unpivot(
        index="period", on=["subscription_revenue", "program_revenue"], variable_name="stream"
    ).with_columns(
        pl.col("stream").replace(
            {"subscription_revenue": "Subscriptions", "program_revenue": "Programs"}
        )
    )
    show_chart(
        charts.bar_chart(
            long,
            x="period",
            y="value",
            color="stream",
            temporal=True,
            annotations=chart_notes(PAGE),
            unit="currency",
            title="Revenue by stream per week",
        ),
        key="stream_chart",
    )

st.subheader("What moved")
if totals.previous is None:
    empty_state("Choose a comparison period to see what moved.")
else:
    additive = [n for n in KPIS if totals.info(n).aggregation in ("sum", "count")]
    breakdowns = {
        segment: ql.metrics(additive, group_by=[segment], compare=view.compare_arg, **query)
        for segment in SEGMENT_LABELS
        if segment not in view.filters
    }
    movers = []
    for name in KPIS:
        value, before = totals.value(name), totals.previous.value(name)
        if value is None or before is None or totals.change(name) is None:
            continue
        drivers = ()
        if name in additive:
            by_dimension = {}
            for segment, result in breakdowns.items():
                if (
                    result.previous is None
                    or name in result.unfiltered
                    or segment not in result.frame.columns
                ):
                    continue
                cur = dict(
                    zip(result.frame[segment].cast(pl.String), result.frame[name], strict=True)
                )
                prev = dict(
                    zip(
                        result.previous.frame[segment].cast(pl.String),
                        result.previous.frame[name],
                        strict=True,
                    )
                )
                by_dimension[SEGMENT_LABELS[segment]] = (
                    {k: float(v or 0) for k, v in cur.items()},
                    {k: float(v or 0) for k, v in prev.items()},
                )
            drivers = best_attribution(by_dimension)
        info = totals.info(name)
        unit = charts.unit_of(info.unit, info.format)
        movers.append(Mover(name, info.label, unit, info.direction, value, before, drivers))
    ranked = rank_movers(movers, limit=4)
    if not ranked:
        st.write("No KPI moved by more than 2 % against the comparison period.")
    for mover in ranked:
        icon = {True: ":material/trending_up:", False: ":material/trending_down:"}.get(
            mover.is_good, ":material/trending_flat:"
        )
        tone = {True: "green", False: "red"}.get(mover.is_good, "gray")
        st.markdown(
            f"{icon} :{tone}[**{mover.label}**] — {mover.sentence(COMPARE_MODES[view.compare].lower())}"
        )

st.subheader("Open alerts on these KPIs")
open_kpi_alerts({mart for name in KPIS for mart in totals.info(name).marts})
