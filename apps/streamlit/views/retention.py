"""Retention and cohorts: how many members of each signup cohort come back, period after period
(weekly or monthly cohorts; day, week or month periods; calendar or rolling 24-hour windows;
N-day or unbounded retention), cohorts overlaid for comparison, one cohort in detail, and the
lifecycle of the active base (new, returning, resurrecting, dormant). Metrics come from the
query layer; the cohort matrix and the lifecycle are marts read through it."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from analytics import charts
from analytics.periods import relative_change
from apps.streamlit.components.annotations import chart_notes
from apps.streamlit.components.cards import Card, kpi_card
from apps.streamlit.components.layout import (
    breadcrumb,
    data_table,
    empty_state,
    page_header,
    section_tabs,
)
from apps.streamlit.components.page_tools import page_tools
from apps.streamlit.components.state import global_filters
from apps.streamlit.queries import data_bounds, kpi_targets, query_layer

PAGE = "retention"
COHORT_GRAINS = {"week": "Weekly", "month": "Monthly"}
PERIOD_GRAINS = {"day": "Days", "week": "Weeks", "month": "Months"}
PERIOD_NAMES = {"day": "Day", "week": "Week", "month": "Month"}
WINDOWS = {"calendar": "Calendar", "rolling_24h": "Rolling 24 h"}
KINDS = {"n_day": "N-day", "unbounded": "Unbounded"}
# The later milestone card per period grain (the first is always period 1).
MILESTONE = {"day": 7, "week": 4, "month": 2}
COHORT_PARAM = "cohort"
NO_COHORT = "none"  # shown as "None (click a row)"
AVERAGE = "All cohorts"
DIM = "cohort_period__"  # the cohort-retention dimensions in the query layer

ql = query_layer()
bounds = data_bounds(ql)
if bounds is None:
    page_header("Retention and cohorts", "Do the members we sign up keep coming back?")
    empty_state("No published data yet: run `pulse materialize` (or `make demo`).")
    st.stop()
first_day, last_day, freshness = bounds
page_header(
    "Retention and cohorts",
    "Do the members we sign up keep coming back, which cohorts hold up best, and how is the "
    "active base made up day by day?",
    freshness,
)
# Cohorts and lifecycle are not split by segment in the data: date range and comparison only.
view = global_filters(first_day, last_day, {}, default_days=(last_day - first_day).days + 1)
breadcrumb(view)
page_tools(view, PAGE)
period = view.effective_period

with st.container(horizontal=True, key="cohort_controls", vertical_alignment="bottom"):
    cohort_grain = (
        st.segmented_control(
            "Cohorts",
            options=list(COHORT_GRAINS),
            default="week",
            format_func=COHORT_GRAINS.get,
            key="cohort_grain",
            bind="query-params",
        )
        or "week"
    )
    period_grain = (
        st.segmented_control(
            "Periods",
            options=list(PERIOD_GRAINS),
            default="week",
            format_func=PERIOD_GRAINS.get,
            key="period_grain",
            bind="query-params",
        )
        or "week"
    )
    window_type = (
        st.segmented_control(
            "Window",
            options=list(WINDOWS),
            default="calendar",
            format_func=WINDOWS.get,
            key="window",
            bind="query-params",
            help="Calendar: periods end at midnight UTC (Mondays, the 1st). Rolling 24 h: whole "
            "24-hour (7 × 24 h, 30 × 24 h) spans after each member's signup.",
        )
        or "calendar"
    )
    kind = (
        st.segmented_control(
            "Retention",
            options=list(KINDS),
            default="n_day",
            format_func=KINDS.get,
            key="kind",
            bind="query-params",
            help="N-day: active in that period. Unbounded: active in that period or any later "
            "one (the curve never rises).",
        )
        or "n_day"
    )

unit_name = PERIOD_NAMES[period_grain]


def cohort_floor(day: dt.date, grain: str) -> dt.date:
    """The first day of the cohort (week from Monday, or month) holding ``day``."""
    return day - dt.timedelta(days=day.weekday()) if grain == "week" else day.replace(day=1)


# A cohort counts when it starts in a week/month the range overlaps (a range starting mid-week
# keeps that week's cohort).
cohort_start = cohort_floor(period.start, cohort_grain)
selection = {
    "cohort_grain": cohort_grain,
    "period_grain": period_grain,
    "window_type": window_type,
    "retention_kind": kind,
}
dims = {f"{DIM}{k}": v for k, v in selection.items()}

st.caption(
    f"{COHORT_GRAINS[cohort_grain]} signup cohorts starting {cohort_start:%b %d} – "
    f"{period.end:%b %d, %Y}; {unit_name.lower()}s since signup, "
    f"{WINDOWS[window_type].lower()} windows, {KINDS[kind]} retention."
    + (f" Compared with {view.comparison.label()}." if view.comparison else "")
)

# ---- cards -----------------------------------------------------------------------------------
targets = kpi_targets()
week1 = ql.metrics(
    ["week1_retention"],
    start=cohort_floor(period.start, "week"),
    end=period.end,
    compare=view.compare_arg,
    page=PAGE,
)
cards = [
    Card(
        name="week1_retention",
        label=week1.info("week1_retention").label,
        value=week1.value("week1_retention"),
        unit="percent",
        direction="up",
        change=week1.change("week1_retention"),
        previous=week1.previous.value("week1_retention") if week1.previous else None,
        target=targets.get("week1_retention"),
        docs=week1.info("week1_retention").docs,
    )
]
milestones = (0, 1, MILESTONE[period_grain])
at_period = {
    n: ql.metrics(
        ["retained_users", "cohort_users"],
        start=cohort_start,
        end=period.end,
        filters={**dims, f"{DIM}period_number": n},
        compare=view.compare_arg,
        page=PAGE,
    )
    for n in milestones
}


def rate(result) -> float | None:
    retained, members = result.value("retained_users"), result.value("cohort_users")
    return retained / members if members else None


members = at_period[0]
cards.append(
    Card(
        name="cohort_users",
        label="Cohort members",
        value=members.value("cohort_users"),
        unit="count",
        direction="neutral",
        change=members.change("cohort_users"),
        previous=members.previous.value("cohort_users") if members.previous else None,
        docs=members.info("cohort_users").docs,
    )
)
for n in milestones[1:]:
    result = at_period[n]
    now, before = rate(result), rate(result.previous) if result.previous else None
    # Compared only when the data covers the comparison period (as MetricsResult.change does).
    comparable = result.change("cohort_users") is not None
    cards.append(
        Card(
            name=f"retention_{n}",
            label=f"Retained in {unit_name.lower()} {n}",
            value=now,
            unit="percent",
            direction="up",
            change=relative_change(now, before) if comparable else None,
            previous=before,
            docs=result.info("retained_users").docs,
        )
    )
grid = st.grid(4, key="kpi_cards")
for card in cards:
    with grid:
        kpi_card(card, key=card.name)
st.caption(
    f"{unit_name} N retention = members active in {unit_name.lower()} N / members of the cohorts "
    f"that have reached it ({KINDS[kind]}, {WINDOWS[window_type].lower()}); a cohort counts once "
    "its first period has ended. Week-1 retention is the catalogue's fixed definition (active on "
    "day 7 after signup, weekly cohorts)."
)

# ---- the cohort matrix (data; drawn in the "Cohort retention" tab) ---------------------------
matrix = ql.table(
    "eng_cohort_retention",
    columns=["cohort_start", "cohort_size", "period_number", "retained_users", "retention_rate"],
    where=selection,
    between=("cohort_start", cohort_start, period.end),
    order_by=["cohort_start", "period_number"],
    page=PAGE,
).frame
cohorts: list[dt.date] = []
if not matrix.is_empty():
    matrix = matrix.with_columns(
        (
            pl.col("cohort_start").dt.strftime("%Y-%m-%d")
            + " ("
            + pl.col("cohort_size").cast(pl.String)
            + ")"
        ).alias("cohort")
    )
    cohorts = matrix["cohort_start"].unique().sort().to_list()


def average_curve() -> pl.DataFrame:
    """The average curve of the cohorts in view: drawn with one cohort, and overlaid on the
    comparison (only the tab that shows it runs the query)."""
    average = ql.metrics(
        ["retained_users", "cohort_users"],
        start=cohort_start,
        end=period.end,
        filters=dims,
        group_by=[f"{DIM}period_number"],
        page=PAGE,
    ).frame
    return (
        average.rename({f"{DIM}period_number": "period_number"})
        .with_columns(
            (pl.col("retained_users") / pl.col("cohort_users")).alias("retention_rate"),
            pl.lit(AVERAGE).alias("cohort"),
        )
        .sort("period_number")
    )


def _cohort_retention() -> None:
    average = average_curve()
    if matrix.is_empty():
        empty_state(
            "No cohort has completed a period in this range yet: widen the date range, or choose "
            "shorter periods (cohort rows appear once a period has ended for every member)."
        )
    else:
        labels = dict(zip(matrix["cohort"], matrix["cohort_start"], strict=False))
        columns = matrix["period_number"].n_unique()

        def pick_cohort() -> None:
            """A click on a heatmap row opens that cohort (the selectbox below follows)."""
            picked = st.session_state["cohort_heatmap"].selection.get("cohort_pick") or []
            if picked and picked[0].get("cohort") in labels:
                st.session_state[COHORT_PARAM] = labels[picked[0]["cohort"]].isoformat()

        st.altair_chart(
            charts.heatmap(
                matrix,
                x="period_number",
                y="cohort",
                value="retention_rate",
                title=f"Share of each cohort active per {unit_name.lower()} since signup",
                x_title=f"{unit_name}s since signup",
                y_title="Cohort (members)",
                text=columns <= 14,
                select="cohort_pick",
                height=110 + 30 * len(cohorts),  # title and axes take ~110 px
            ),
            key="cohort_heatmap",
            on_select=pick_cohort,
            selection_mode=["cohort_pick"],
        )
        st.caption(
            "Click a cohort's row to look at it alone. A cell appears once that period has ended for "
            "every member of the cohort, so recent cohorts have shorter rows."
        )
        wide = (
            matrix.pivot(
                on="period_number",
                index=["cohort_start", "cohort_size"],
                values="retention_rate",
                sort_columns=True,
            )
            .sort("cohort_start")
            .rename(lambda c: f"{unit_name} {c}" if c.isdigit() else c)
        )
        with st.expander("The matrix as a table"):
            data_table(
                wide,
                key="matrix_table",
                formats={c: "percent" for c in wide.columns if c.startswith(unit_name)}
                | {"cohort_size": "count"},
                labels={"cohort_start": "Cohort", "cohort_size": "Members"},
                searchable=False,
            )

    if cohorts:
        options = [NO_COHORT, *(c.isoformat() for c in reversed(cohorts))]
        if st.session_state.get(COHORT_PARAM) not in (None, *options):
            st.session_state[COHORT_PARAM] = NO_COHORT  # a link to a cohort outside this view
        chosen = st.selectbox(
            "Cohort in detail",
            options=options,
            # The URL holds the formatted label: keep it the ISO date (?cohort=2026-01-19).
            format_func=lambda c: "None (click a row)" if c == NO_COHORT else c,
            key=COHORT_PARAM,
            bind="query-params",
            width=280,
        )
        if chosen and chosen != NO_COHORT:
            day = dt.date.fromisoformat(chosen)
            one = matrix.filter(pl.col("cohort_start") == day).sort("period_number")
            size = one["cohort_size"][0]
            st.markdown(
                f"**Cohort of {day:%b %d, %Y}** — {size:,} members who signed up that "
                f"{'week' if cohort_grain == 'week' else 'month'}."
            )
            left, right = st.columns(2)
            with left:
                st.altair_chart(
                    charts.curve_chart(
                        pl.concat(
                            [
                                one.select(
                                    pl.lit(f"Cohort {chosen}").alias("cohort"),
                                    "period_number",
                                    "retention_rate",
                                ),
                                average.select("cohort", "period_number", "retention_rate"),
                            ]
                        ),
                        x="period_number",
                        y="retention_rate",
                        color="cohort",
                        highlight=f"Cohort {chosen}",
                        title="This cohort against all cohorts in view",
                        x_title=f"{unit_name}s since signup",
                        y_title="Retained",
                    ),
                    key="cohort_detail_chart",
                )
            with right:
                detail = one.join(
                    average.select("period_number", pl.col("retention_rate").alias("average_rate")),
                    on="period_number",
                    how="left",
                ).select(
                    pl.col("period_number").alias("period"),
                    "retained_users",
                    "retention_rate",
                    "average_rate",
                    (pl.col("retention_rate") - pl.col("average_rate")).alias("difference"),
                )
                data_table(
                    detail,
                    key="cohort_detail_table",
                    formats={
                        "retained_users": "count",
                        "retention_rate": "percent",
                        "average_rate": "percent",
                        "difference": "percent",
                    },
                    labels={
                        "period": unit_name,
                        "retained_users": "Retained",
                        "retention_rate": "Retention",
                        "average_rate": "All cohorts",
                        "difference": "Difference",
                    },
                    searchable=False,
                )


def _compare() -> None:
    average = average_curve()
    if len(cohorts) < 1:
        empty_state("No cohorts in this range to compare: widen the date range.")
    else:
        # Default: the latest cohorts that have at least two periods, up to four.
        reached = matrix.group_by("cohort_start").agg(pl.col("period_number").max().alias("last"))
        ready = reached.filter(pl.col("last") >= 1).sort("cohort_start")["cohort_start"].to_list()
        default = [c.isoformat() for c in (ready or cohorts)[-4:]]
        chosen_many = st.multiselect(
            "Cohorts",
            options=[c.isoformat() for c in cohorts],
            default=default,
            key="compare_cohorts",
            bind="query-params",
            placeholder="Pick two or more cohorts",
        )
        with_average = st.toggle("Show all cohorts together", value=True, key="with_average")
        picked = [dt.date.fromisoformat(c) for c in chosen_many]
        curves = matrix.filter(pl.col("cohort_start").is_in(picked)).select(
            "cohort", "period_number", "retention_rate"
        )
        if with_average:
            curves = pl.concat(
                [curves, average.select("cohort", "period_number", "retention_rate")]
            )
        if curves.is_empty():
            empty_state("Pick two or more cohorts to overlay their retention curves.")
        else:
            st.altair_chart(
                charts.curve_chart(
                    curves,
                    x="period_number",
                    y="retention_rate",
                    color="cohort",
                    highlight=AVERAGE if with_average else None,
                    title=f"Retention by {unit_name.lower()} since signup, cohorts overlaid",
                    x_title=f"{unit_name}s since signup",
                    y_title="Retained",
                ),
                key="compare_chart",
            )
        drops = average.with_columns(
            (pl.col("retention_rate").shift(1) - pl.col("retention_rate")).alias("drop")
        ).filter(pl.col("drop").is_not_null())
        if not drops.is_empty():
            worst = drops.sort("drop", descending=True).row(0, named=True)
            later = matrix.filter(pl.col("period_number") == 1).sort(
                "retention_rate", descending=True
            )
            note = (
                f"Across the cohorts in view the biggest loss is from {unit_name.lower()} "
                f"{worst['period_number'] - 1} to {worst['period_number']} "
                f"({charts.format_value(worst['drop'], 'percent')} of members)"
            )
            if later.height > 1:
                best, low = later.row(0, named=True), later.row(-1, named=True)
                note += (
                    f"; at {unit_name.lower()} 1 the best cohort is {best['cohort_start']:%b %d} "
                    f"({charts.format_value(best['retention_rate'], 'percent')}), the weakest "
                    f"{low['cohort_start']:%b %d} "
                    f"({charts.format_value(low['retention_rate'], 'percent')})"
                )
            st.markdown(f":material/lightbulb: {note}.")
        st.caption(
            "The cohort data is not split by platform, channel, plan or country, so cohorts are "
            "compared by signup date only. 'All cohorts' is retained / members over the cohorts "
            "that have reached each period."
        )


def _lifecycle() -> None:
    life = ql.table(
        "eng_lifecycle_daily",
        between=("activity_date", period.start, period.end),
        order_by="activity_date",
        page=PAGE,
    ).frame
    if life.is_empty():
        empty_state("No activity in this range: widen the date range.")
    else:
        states = {
            "new_users": "New",
            "returning_users": "Returning",
            "resurrecting_users": "Resurrecting",
            "dormant_users": "Dormant",
        }
        long = (
            life.unpivot(index="activity_date", on=list(states), variable_name="state")
            .with_columns(
                # Dormant members are drawn below zero, as lifecycle charts do: they left the base.
                pl.when(pl.col("state") == "dormant_users")
                .then(-pl.col("value"))
                .otherwise(pl.col("value"))
                .alias("members"),
                pl.col("state").replace(states),
            )
            .rename({"activity_date": "day"})
        )
        st.altair_chart(
            charts.bar_chart(
                long,
                x="day",
                y="members",
                color="state",
                temporal=True,
                annotations=chart_notes(PAGE),
                unit="count",
                title="Members per day by lifecycle state",
            ),
            key="lifecycle_chart",
        )
        latest = life.row(-1, named=True)
        came_in = life.select(pl.col("new_users").sum(), pl.col("resurrecting_users").sum()).row(0)
        st.markdown(
            f"In the range **{came_in[0]:,}** members were active for the first time and "
            f"**{came_in[1]:,}** came back after a week or more away. On "
            f"{latest['activity_date']:%b %d}: **{latest['active_users']:,}** active "
            f"({latest['new_users']:,} new, {latest['returning_users']:,} returning, "
            f"{latest['resurrecting_users']:,} resurrecting) and **{latest['dormant_users']:,}** "
            "dormant."
        )
        st.caption(
            "Dormant members are drawn below zero. New = first active day in the data; returning = also active in the 7 days before; "
            "resurrecting = back after 7 or more quiet days; dormant = not active for 7 days but "
            "active in the 3 weeks before."
            + (
                " On the data's first days every active member looks new (the data does not reach "
                "back further)."
                if period.start < first_day + dt.timedelta(days=7)
                else ""
            )
        )


section_tabs(
    {"Cohort retention": _cohort_retention, "Compare cohorts": _compare, "Lifecycle": _lifecycle}
)
