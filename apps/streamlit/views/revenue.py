"""Revenue: the revenue KPIs against the comparison period, revenue by stream per day, MRR over
time and its monthly movements (a waterfall that adds up), ARPU and ARPPU by month, and what
refunds cost. Every number comes from the query layer (metrics defined in dbt; the MRR movements
and the refund days are rows of their marts, read through ``QueryLayer.table``)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from analytics import charts
from analytics.periods import COMPARE_MODES, months_label, months_overlapping, shifted_onto
from analytics.revenue import MRR_MOVEMENTS, mrr_bridge
from apps.streamlit.alerts_panel import open_kpi_alerts
from apps.streamlit.components.annotations import chart_notes
from apps.streamlit.components.cards import card_for, kpi_card
from apps.streamlit.components.layout import (
    breadcrumb,
    data_table,
    empty_state,
    page_header,
    section_tabs,
    show_chart,
    unfiltered_note,
)
from apps.streamlit.components.page_tools import page_tools
from apps.streamlit.components.state import global_filters
from apps.streamlit.queries import data_bounds, kpi_targets, query_layer, segment_options

PAGE = "revenue"
KPIS = (
    "net_revenue",
    "gross_revenue",
    "refunds",
    "mrr",
    "paying_subscribers",
    "arpu",
    "arppu",
    "subscriber_churn_rate",
)
# Daily sparklines only where a day's value is a slice of the period's (ARPU of a day is not).
SPARKLINES = ("net_revenue", "gross_revenue", "refunds", "mrr", "paying_subscribers")
STREAMS = {"subscriptions": "Subscriptions", "program_sales": "Program sales"}
STREAM_MEASURES = ("gross_revenue", "stream_net_revenue", "refunds")
REFUND_KPIS = ("refund_count", "refunds", "refund_to_sales_ratio", "program_revenue")


def _money(value: float | None) -> str:
    """To the cent (the movements must visibly add up): ``$819.55``, ``−$224.87``."""
    if value is None:
        return "–"
    return f"{'−' if value < 0 else ''}${abs(value):,.2f}"


ql = query_layer()
bounds = data_bounds(ql)
if bounds is None:
    page_header("Revenue", "Where does revenue come from and how is recurring revenue moving?")
    empty_state("No published data yet: run `pulse materialize` (or `make demo`).")
    st.stop()
first_day, last_day, freshness = bounds
page_header(
    "Revenue",
    "Where does revenue come from, how is recurring revenue moving, and what do refunds cost?",
    freshness,
)
view = global_filters(first_day, last_day, segment_options(freshness.publication_id))
breadcrumb(view)
page_tools(view, PAGE)
period, comparison = view.effective_period, view.comparison
query = {"start": period.start, "end": period.end, "filters": view.filters, "page": PAGE}
months = months_overlapping(period)
previous_months = months_overlapping(comparison) if comparison is not None else ()

# ---- KPI cards -------------------------------------------------------------------------------
totals = ql.metrics(KPIS, compare=view.compare_arg, **query)
daily = ql.metrics(SPARKLINES, grain="day", **query).combined().sort("period")
targets = kpi_targets()
st.caption(view.describe())
unfiltered_note(totals, KPIS)
grid = st.grid(4, key="kpi_cards")
for name in KPIS:
    info = totals.info(name)
    monthly = info.time_grain == "month"
    card = card_for(
        totals,
        name,
        target=targets.get(name),
        trend=daily[name].to_list() if name in daily.columns else (),
        label=f"{info.label} ({months_label(months)})" if monthly else None,
        # A monthly metric covers whole months: a comparison sharing a month is no comparison.
        comparable=not (monthly and set(months) & set(previous_months)),
    )
    with grid:
        kpi_card(card, key=name)
if set(months) & set(previous_months):
    st.caption(
        f"Subscriber churn is monthly: it covers {months_label(months)}, which the comparison "
        "period shares, so it shows no change."
    )


def _by_stream() -> None:
    by_day = ql.metrics(STREAM_MEASURES, grain="day", group_by=["revenue__stream"], **query)
    by_stream = ql.metrics(STREAM_MEASURES, group_by=["revenue__stream"], **query)
    unfiltered_note(by_day, STREAM_MEASURES)
    measure = (
        st.segmented_control(
            "Show",
            options=list(STREAM_MEASURES),
            default="gross_revenue",
            format_func=lambda m: by_day.info(m).label.replace(" by stream", ""),
            key="stream_measure",
            bind="query-params",
        )
        or "gross_revenue"
    )
    left, right = st.columns([2, 1])
    with left:
        frame = by_day.frame.with_columns(
            pl.col("revenue__stream").replace(STREAMS).alias("stream")
        )
        if frame.is_empty() or not frame[measure].abs().sum():
            empty_state("No revenue in this period.")
        else:
            show_chart(
                charts.bar_chart(
                    frame.select("period", "stream", measure),
                    x="period",
                    y=measure,
                    color="stream",
                    temporal=True,
                    annotations=chart_notes(PAGE),
                    unit="currency",
                    title=f"{by_day.info(measure).label.replace(' by stream', '')} per day, by stream",
                    select="stream_day",
                ),
                key="stream_chart",
                selection="stream_day",
                drill={"period": "day"},
            )
            st.caption("Click a day to narrow the page to it; the breadcrumb above undoes it.")
    streams = by_stream.frame.with_columns(
        pl.col("revenue__stream").replace(STREAMS).alias("stream")
    )
    net_total = float(streams["stream_net_revenue"].sum() or 0.0)
    streams = streams.with_columns(
        (pl.col("stream_net_revenue") / net_total if net_total else pl.lit(None)).alias("share")
    ).sort("stream_net_revenue", descending=True)
    with right:
        if net_total > 0:
            show_chart(
                charts.donut_chart(
                    streams.select("stream", "stream_net_revenue"),
                    category="stream",
                    value="stream_net_revenue",
                    title="Share of net revenue",
                    unit="currency",
                    height=220,
                ),
                key="stream_donut",
            )
    data_table(
        streams.select("stream", "gross_revenue", "refunds", "stream_net_revenue", "share"),
        key="stream_table",
        formats={
            "gross_revenue": "currency",
            "refunds": "currency",
            "stream_net_revenue": "currency",
            "share": "percent",
        },
        labels={
            "stream": "Stream",
            "gross_revenue": "Gross",
            "refunds": "Refunds",
            "stream_net_revenue": "Net",
            "share": "Share of net",
        },
        searchable=False,
    )


def _mrr() -> None:
    mrr = ql.metrics(["mrr", "paying_subscribers"], grain="day", **query).frame.sort("period")
    if mrr.is_empty():
        empty_state("No MRR in this period: no subscription has started yet.")
    else:
        overlay = None
        if comparison is not None:
            before = ql.metrics(
                ["mrr"],
                grain="day",
                start=comparison.start,
                end=comparison.end,
                page=PAGE,
                live=False,
            ).frame.sort("period")
            if not before.is_empty():
                overlay = before.select(
                    shifted_onto("period", comparison, period).alias("day"),
                    pl.col("mrr").alias("value"),
                )
        show_chart(
            charts.line_chart(
                mrr.select(pl.col("period").alias("day"), pl.col("mrr").alias("value")),
                x="day",
                annotations=chart_notes(PAGE),
                y="value",
                title="MRR at the end of each day",
                y_title="MRR",
                unit="currency",
                comparison=overlay,
                comparison_label=COMPARE_MODES[view.compare].lower(),
                area=True,
            ),
            key="mrr_chart",
        )
        end_row = mrr.row(-1, named=True)
        st.caption(
            f"MRR on {end_row['period']:%b %d, %Y}: {_money(end_row['mrr'])} from "
            f"{end_row['paying_subscribers']:,} paying subscribers (monthly plans as billed, annual "
            "plans / 12, past-due subscribers during their grace period)."
        )

    st.markdown("##### MRR movements by month")
    movements = ql.table("rev_mrr_movements", order_by="mrr_month", page=PAGE).frame
    if movements.is_empty():
        empty_state("No MRR movements yet: they start with the first month of subscription data.")
    else:
        keys = [f"{m:%Y-%m}" for m in movements["mrr_month"]]
        wanted = f"{period.end:%Y-%m}"
        default = max((k for k in keys if k <= wanted), default=keys[-1])
        picked = st.selectbox(
            "Month",
            options=keys,
            index=keys.index(default),
            format_func=lambda k: dt.date.fromisoformat(f"{k}-01").strftime("%B %Y"),
            key="mrr_month",
            bind="query-params",
            width=200,
        )
        row = movements.row(keys.index(picked or default), named=True)
        bridge = mrr_bridge(row)
        left, right = st.columns([3, 2])
        with left:
            show_chart(
                charts.waterfall_chart(
                    pl.DataFrame(
                        {
                            "movement": [label for label, _ in bridge.steps],
                            "amount": [value for _, value in bridge.steps],
                        }
                    ),
                    title=f"MRR movements, {row['mrr_month']:%B %Y}",
                    unit="currency",
                    horizontal=True,
                    height=260,
                ),
                key="mrr_waterfall",
            )
        with right:
            if bridge.adds_up:
                st.success(
                    f"{bridge.equation(_money)}, the ending MRR.", icon=":material/check_circle:"
                )
            else:
                st.warning(
                    f"{bridge.equation(_money)}, but the ending MRR is {_money(bridge.ending)}: the "
                    f"movements are off by {_money(bridge.difference)}. Check the quality results "
                    "of rev_mrr_movements.",
                    icon=":material/warning:",
                )
            counts = pl.DataFrame(
                {
                    "movement": [label for label, _ in bridge.steps],
                    "mrr": [value for _, value in bridge.steps],
                    "subscribers": [n for _, n in bridge.subscribers],
                },
                schema={"movement": pl.String, "mrr": pl.Float64, "subscribers": pl.Int64},
            )
            data_table(
                counts,
                key="mrr_steps",
                formats={"mrr": "currency", "subscribers": "count"},
                labels={"movement": "Movement", "mrr": "MRR", "subscribers": "Subscribers"},
                searchable=False,
            )
        notes = []
        if row["mrr_month"] == movements["mrr_month"].min() and (
            freshness.data_start and freshness.data_start > row["mrr_month"]
        ):
            notes.append(
                f"The data starts on {freshness.data_start:%b %d, %Y}: subscribers already paying "
                f"before then count as new in {row['mrr_month']:%B}."
            )
        if not row["is_complete_month"]:
            notes.append("Month in progress: its ending MRR is the newest day's.")
        notes.append(
            "Starting MRR is the previous month's ending MRR; expansion and contraction are plan "
            "changes of subscribers paying at both month ends."
        )
        st.caption(" ".join(notes))
        with st.expander("Every month"):
            table = movements.with_columns(
                (pl.col("ending_mrr") - pl.col("starting_mrr")).alias("net_new_mrr")
            ).select(
                pl.col("mrr_month").dt.strftime("%b %Y"),
                "starting_mrr",
                *[col for _, col, _ in MRR_MOVEMENTS],
                "ending_mrr",
                "net_new_mrr",
                "is_complete_month",
            )
            data_table(
                table,
                key="mrr_months",
                formats={c: "currency" for c in table.columns if c.endswith("_mrr")},
                labels={
                    "mrr_month": "Month",
                    "starting_mrr": "Starting",
                    "new_mrr": "New",
                    "expansion_mrr": "Expansion",
                    "reactivated_mrr": "Reactivated",
                    "contraction_mrr": "Contraction",
                    "churned_mrr": "Churned",
                    "ending_mrr": "Ending",
                    "net_new_mrr": "Net new",
                    "is_complete_month": "Complete month",
                },
                searchable=False,
            )


def _arpu() -> None:
    # Every month of the data (a trend needs more than the period's one or two months), with the
    # page's segment filters.
    monthly = ql.metrics(
        ["arpu", "arppu", "net_revenue", "active_users", "paying_users"],
        grain="month",
        start=first_day,
        end=last_day,
        filters=view.filters,
        page=PAGE,
    )
    unfiltered_note(monthly, ["arpu", "arppu"])
    per_month = monthly.frame.sort("period")
    if per_month.is_empty():
        empty_state("No revenue or active users yet.")
    else:

        def _month_name(month: dt.date) -> str:
            end = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            whole = month >= first_day and end <= last_day
            return f"{month:%b %Y}" + ("" if whole else " (part)")

        per_month = per_month.with_columns(
            pl.col("period").map_elements(_month_name, return_dtype=pl.String).alias("month")
        )
        left, right = st.columns(2)
        for column, name, help_text in (
            (left, "arpu", "net revenue / active users"),
            (right, "arppu", "net revenue / paying users"),
        ):
            with column:
                show_chart(
                    charts.bar_chart(
                        per_month.select("month", name),
                        x="month",
                        y=name,
                        unit="currency",
                        sort="none",
                        label_angle=0,
                        title=f"{monthly.info(name).label} ({help_text})",
                        height=200,
                    ),
                    key=f"{name}_chart",
                )
        st.caption(
            f"Every calendar month of the data ({first_day:%b %d, %Y} – {last_day:%b %d, %Y}), "
            "whatever the date range; “(part)” marks a month the data covers only in part. Active "
            "and paying users are distinct users of the month."
        )
        data_table(
            per_month.select(
                "month", "net_revenue", "active_users", "paying_users", "arpu", "arppu"
            ),
            key="arpu_table",
            formats={
                "net_revenue": "currency",
                "active_users": "count",
                "paying_users": "count",
                "arpu": "number",
                "arppu": "number",
            },
            labels={
                "month": "Month",
                "net_revenue": "Net revenue",
                "active_users": "Active users",
                "paying_users": "Paying users",
                "arpu": "ARPU ($)",
                "arppu": "ARPPU ($)",
            },
            searchable=False,
        )


def _refunds() -> None:
    refunds = ql.metrics(REFUND_KPIS, compare=view.compare_arg, **query)
    unfiltered_note(refunds, REFUND_KPIS)
    grid = st.grid(4, key="refund_cards")
    for name in REFUND_KPIS:
        with grid:
            kpi_card(card_for(refunds, name, target=targets.get(name)), key=f"refund_{name}")
    if not refunds.value("refund_count"):
        empty_state("No refunds in this period.")
    else:
        left, right = st.columns(2)
        with left:
            per_day = ql.metrics(["refunds"], grain="day", **query).frame.sort("period")
            show_chart(
                charts.bar_chart(
                    per_day,
                    x="period",
                    y="refunds",
                    temporal=True,
                    annotations=chart_notes(PAGE),
                    unit="currency",
                    title="Refunded per day",
                    height=220,
                ),
                key="refund_days_chart",
            )
        with right:
            weekly = ql.metrics(["refund_to_sales_ratio"], grain="week", **query).frame.sort(
                "period"
            )
            show_chart(
                charts.bar_chart(
                    weekly.fill_null(0.0),
                    x="period",
                    y="refund_to_sales_ratio",
                    temporal=True,
                    annotations=chart_notes(PAGE),
                    unit="percent",
                    title="Refund-to-sales ratio per week",
                    height=220,
                ),
                key="refund_ratio_chart",
            )
            st.caption(
                "Whole ISO weeks (from Monday) touching the period. A refund counts on its own day, "
                "its sale may be earlier: a week's ratio can pass 100 %."
            )
        days = (
            ql.table(
                "rev_refunds_daily",
                between=("refund_date", period.start, period.end),
                order_by="refund_date",
                descending=True,
                page=PAGE,
            )
            .frame.filter(pl.col("refund_count") > 0)
            .select(
                pl.col("refund_date").cast(pl.String),
                "refund_count",
                "refunding_users",
                "refunded_amount",
                "purchase_revenue",
                "refund_to_sales_ratio",
                "avg_days_to_refund",
            )
        )
        st.markdown("###### Days with refunds")
        data_table(
            days,
            key="refund_days",
            formats={
                "refund_count": "count",
                "refunding_users": "count",
                "refunded_amount": "currency",
                "purchase_revenue": "currency",
                "refund_to_sales_ratio": "percent",
                "avg_days_to_refund": "number",
            },
            labels={
                "refund_date": "Day",
                "refund_count": "Refunds",
                "refunding_users": "Users",
                "refunded_amount": "Refunded",
                "purchase_revenue": "Program sales that day",
                "refund_to_sales_ratio": "Refunds / sales",
                "avg_days_to_refund": "Days since purchase (avg)",
            },
        )


section_tabs(
    {
        "Revenue by stream": _by_stream,
        "MRR": _mrr,
        "ARPU and ARPPU": _arpu,
        "Refunds": _refunds,
    }
)

st.subheader("Open alerts on revenue data")
open_kpi_alerts(
    {mart for name in (*KPIS, *REFUND_KPIS) for mart in ql.info(name).marts}
    | {"rev_mrr_movements", "rev_refunds_daily"}
)
