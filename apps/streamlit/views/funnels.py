"""Funnels: how signups become active and paying members — signup, first workout, first paid
conversion (program purchase or subscription) within the funnel window — with the conversion,
the time it takes, its trend by signup week and its breakdown by the signup's channel and
platform. Only signups whose window is complete count. Every metric comes from the query layer
(defined in dbt); the time-to-convert distribution is the funnel mart read through it."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import charts
from apps.streamlit.components.annotations import chart_notes
from apps.streamlit.components.cards import card_for, kpi_card
from apps.streamlit.components.layout import (
    breadcrumb,
    data_table,
    empty_state,
    page_header,
    show_chart,
)
from apps.streamlit.components.page_tools import page_tools
from apps.streamlit.components.state import SEGMENT_LABELS, global_filters
from apps.streamlit.queries import data_bounds, kpi_targets, query_layer, segment_options

PAGE = "funnels"
KPIS = ("funnel_signups", "activation_rate", "funnel_conversion_rate", "median_days_to_paid")
COUNTS = ("funnel_signups", "funnel_activations", "funnel_paid_after_workout", "funnel_paid")
RATES = ("activation_rate", "funnel_conversion_rate")
TIMES = ("median_hours_to_first_workout", "median_days_to_paid")
# The funnel metrics realize these global segments with the signup's own channel and platform
# (the mart's columns, for the rows read through ql.table).
SEGMENT_COLUMNS = {"acquisition_channel": "signup_channel", "platform": "signup_platform"}
DEFAULT_WINDOW_DAYS = 14

ql = query_layer()
bounds = data_bounds(ql)
if bounds is None:
    page_header("Funnels", "How many signups go on to work out and to pay?")
    empty_state("No published data yet: run `pulse materialize` (or `make demo`).")
    st.stop()
first_day, last_day, freshness = bounds
page_header(
    "Funnels",
    "How many signups go on to complete a workout and to pay (a program or a subscription), "
    "how long it takes, and which channels and platforms convert best?",
    freshness,
)

# The conversion window and the last signup day whose window has ended inside the data.
complete = ql.table(
    "eng_signup_funnel_daily",
    columns=["signup_date", "funnel_window_days"],
    where={"is_window_complete": True},
    order_by="signup_date",
    descending=True,
    limit=1,
    page=PAGE,
).frame
window_days = int(complete["funnel_window_days"][0]) if complete.height else DEFAULT_WINDOW_DAYS
last_complete = complete["signup_date"][0] if complete.height else None

options = segment_options(freshness.publication_id)
view = global_filters(
    first_day,
    last_day,
    {name: options.get(name, []) for name in SEGMENT_COLUMNS},
    default_end=last_complete,
)
breadcrumb(view)
page_tools(view, PAGE)
period, comparison = view.effective_period, view.comparison
query = {"start": period.start, "end": period.end, "filters": view.filters, "page": PAGE}
st.caption(view.describe())

if last_complete is None:
    empty_state(
        f"No signup has had its full {window_days}-day window yet: the funnel counts a signup "
        f"once {window_days} days have passed (the data starts {first_day:%b %d, %Y})."
    )
    st.stop()
# Signups of the range still inside their window (left out of every funnel metric).
where = {SEGMENT_COLUMNS[k]: v for k, v in view.filters.items() if k in SEGMENT_COLUMNS}
open_signups = (
    ql.table(
        "eng_signup_funnel",
        columns=["user_id"],
        where={**where, "is_window_complete": False},
        between=("signup_date", period.start, period.end),
        page=PAGE,
    ).frame.height
    if period.end > last_complete
    else 0
)
st.info(
    f"Only signups whose {window_days}-day conversion window has ended count — signups through "
    f"{last_complete:%b %d, %Y} in this data."
    + (
        f" {open_signups:,} later signup{'s' if open_signups != 1 else ''} in the range "
        f"{'are' if open_signups != 1 else 'is'} still converting and left out."
        if open_signups
        else ""
    ),
    icon=":material/hourglass_bottom:",
)

totals = ql.metrics([*COUNTS, *RATES, *TIMES], compare=view.compare_arg, **query)
weekly = (
    ql.metrics(["funnel_signups", *RATES], grain="week", **query)
    .frame.filter(pl.col("funnel_signups") > 0)  # weeks whose windows are all still open
    .sort("period")
)
targets = kpi_targets()


def unit(name: str) -> str:
    info = totals.info(name)
    return charts.unit_of(info.unit, info.format)


grid = st.grid(4, key="kpi_cards")
for name in KPIS:
    info = totals.info(name)
    with grid:
        kpi_card(
            card_for(
                totals,
                name,
                target=targets.get(name),
                trend=weekly[name].to_list() if name in weekly.columns else (),
            ),
            key=name,
        )

# ---- the funnel ------------------------------------------------------------------------------
st.subheader("Signup to first workout to paid")
signups = totals.value("funnel_signups") or 0
if not signups:
    empty_state(
        "No signups with a complete window in this range: move the range to end on or before "
        f"{last_complete:%b %d, %Y}, or clear the segment filters."
    )
    st.stop()
steps = pl.DataFrame(
    {
        "step": ["Signed up", "Worked out", "Then paid"],
        "users": [
            int(totals.value("funnel_signups") or 0),
            int(totals.value("funnel_activations") or 0),
            int(totals.value("funnel_paid_after_workout") or 0),
        ],
    }
)
show_chart(
    charts.funnel_chart(steps, title=f"Signups of {period.label()}", height=200),
    key="funnel_chart",
)
paid_any = int(totals.value("funnel_paid") or 0)
ordered = int(totals.value("funnel_paid_after_workout") or 0)
hours = totals.value("median_hours_to_first_workout")
days = totals.value("median_days_to_paid")
st.markdown(
    f"- **{charts.format_value(totals.value('activation_rate'), 'percent')}** complete a "
    f"workout within {window_days} days of signing up, after a median of "
    f"**{charts.format_value(hours, 'hours')}**.\n"
    f"- **{paid_any:,}** buy a program or subscribe within {window_days} days "
    f"(**{charts.format_value(totals.value('funnel_conversion_rate'), 'percent')}**), a "
    f"median of **{charts.format_value(days, 'days')}** after signup"
    + (f"; {paid_any - ordered:,} of them before any workout." if paid_any > ordered else ".")
)
st.caption(
    "The funnel is strictly ordered: 'Then paid' counts members who bought a program or "
    f"subscribed after their first workout, both within {window_days} days. 'Signup to paid' "
    "counts every payment within the window, in any order."
)

# ---- time to convert -------------------------------------------------------------------------
st.subheader("Time to convert")
rows = ql.table(
    "eng_signup_funnel",
    columns=["hours_to_first_workout", "hours_to_first_conversion", "converted_within_window"],
    where={**where, "is_window_complete": True},
    between=("signup_date", period.start, period.end),
    page=PAGE,
).frame
paid_rows = rows.filter(pl.col("converted_within_window"))
left, right = st.columns(2)
with left:
    if paid_rows.is_empty():
        empty_state("Nobody in this range paid within the window.")
    else:
        by_day = (
            paid_rows.select(
                (pl.col("hours_to_first_conversion") // 24).cast(pl.Int64).alias("days")
            )
            .group_by("days")
            .agg(pl.len().alias("members"))
        )
        by_day = (
            pl.DataFrame({"days": list(range(window_days + 1))})
            .join(by_day, on="days", how="left")
            .with_columns(pl.col("members").fill_null(0))
            .with_columns(pl.col("days").cast(pl.String).alias("day"))
        )
        show_chart(
            charts.bar_chart(
                by_day,
                x="day",
                y="members",
                unit="count",
                sort="none",
                title="First payment, by whole days after signup",
            ),
            key="time_to_paid_chart",
        )
with right:
    if weekly.is_empty():
        empty_state("No complete signup weeks in this range.")
    else:
        long = weekly.unpivot(index="period", on=list(RATES), variable_name="rate").with_columns(
            pl.col("rate").replace({r: totals.info(r).label for r in RATES})
        )
        show_chart(
            charts.line_chart(
                long.rename({"period": "week"}),
                x="week",
                annotations=chart_notes(PAGE),
                y="value",
                color="rate",
                unit="percent",
                title="Conversion by signup week",
            ),
            key="weekly_chart",
        )
st.caption(
    f"Day 0 is the first 24 hours after signup. Weeks start on Monday; a week's rates count "
    f"only its signups with a complete {window_days}-day window."
)

# ---- by segment ------------------------------------------------------------------------------
st.subheader("Conversion by segment")
free = [s for s in SEGMENT_COLUMNS if s not in view.filters or len(view.filters[s]) > 1]
if not free:
    empty_state("Every segment is narrowed to one value: clear a filter to compare segments.")
else:
    segment = (
        st.segmented_control(
            "Break down by",
            options=free,
            default=free[0],
            format_func=lambda s: f"Signup {SEGMENT_LABELS.get(s, s).lower()}",
            key="breakdown",
            bind="query-params",
        )
        or free[0]
    )
    split = (
        ql.metrics([*COUNTS, *RATES, *TIMES], group_by=[segment], **query)
        .frame.filter(pl.col("funnel_signups") > 0)
        .sort("funnel_signups", descending=True)
    )
    if split.is_empty():
        empty_state("No signups with a complete window in this range.")
    else:
        left, right = st.columns([2, 3])
        with left:
            show_chart(
                charts.bar_chart(
                    split.select(segment, "funnel_conversion_rate"),
                    x=segment,
                    y="funnel_conversion_rate",
                    unit="percent",
                    horizontal=True,
                    select="segment_pick",
                    title="Signup to paid",
                    height=max(140, 36 * split.height + 40),
                ),
                # A fresh selection after each drill (the old one would dim every bar).
                key=f"segment_chart_{segment}_{len(view.drills)}",
                selection="segment_pick",
                drill={segment: segment},
            )
            st.caption("Click a bar to narrow the page to that segment.")
        with right:
            data_table(
                split.select(segment, *COUNTS, *RATES, *TIMES),
                key="segment_table",
                formats={
                    **{c: "count" for c in COUNTS},
                    **{r: "percent" for r in RATES},
                    **{t: "number" for t in TIMES},
                },
                labels={
                    segment: SEGMENT_LABELS.get(segment, segment),
                    "funnel_signups": "Signups",
                    "funnel_activations": "Worked out",
                    "funnel_paid_after_workout": "Paid after workout",
                    "funnel_paid": "Paid",
                    "activation_rate": "→ workout",
                    "funnel_conversion_rate": "→ paid",
                    "median_hours_to_first_workout": "Median h to workout",
                    "median_days_to_paid": "Median days to paid",
                },
            )
    st.caption(
        "Channel and platform are those recorded on the `Signed Up` event (the Channel and "
        "Platform filters above select the same)."
    )
