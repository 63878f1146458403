"""Engagement: how much members use the app (sessions, their length and frequency, by platform),
which features they adopt, how they move from screen to screen, and how sticky the app is
(DAU/MAU). Metrics come from the query layer (defined in dbt); the adoption and screen-path
tables are marts read through it."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from analytics import charts
from analytics.periods import COMPARE_MODES, shifted_onto
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
from apps.streamlit.components.state import View, global_filters
from apps.streamlit.queries import data_bounds, kpi_targets, query_layer, segment_options

PAGE = "engagement"
KPIS = ("sessions", "avg_session_length", "sessions_per_user", "stickiness")
SESSION_TREND = ("sessions", "avg_session_length", "sessions_per_user")
SESSION_PLATFORM = "session__platform"  # the device of the session, not the member's platform
MAU_DAYS = 30

ql = query_layer()
bounds = data_bounds(ql)
if bounds is None:
    page_header("Engagement", "How much do members use the app, and do they come back?")
    empty_state("No published data yet: run `pulse materialize` (or `make demo`).")
    st.stop()
first_day, last_day, freshness = bounds
page_header(
    "Engagement",
    "How much do members use the app, which features do they adopt, how do they move through "
    "it, and how often do they come back?",
    freshness,
)
view = global_filters(first_day, last_day, segment_options(freshness.publication_id))
breadcrumb(view)
page_tools(view, PAGE)
period, comparison = view.effective_period, view.comparison
query = {"start": period.start, "end": period.end, "filters": view.filters, "page": PAGE}


def overlay(metric: str, view: View, since: dt.date | None = None) -> pl.DataFrame | None:
    """The metric per day in the comparison period, drawn onto the current period's days
    (only its days from ``since`` on, when given)."""
    if view.comparison is None or (since is not None and view.comparison.end < since):
        return None
    before = ql.metrics(
        [metric],
        grain="day",
        start=view.comparison.start,
        end=view.comparison.end,
        filters=view.filters,
        page=PAGE,
        live=False,
    ).frame.sort("period")
    if since is not None:
        before = before.filter(pl.col("period") >= since)
    compared, current = view.comparison, view.effective_period
    return before.select(
        shifted_onto("period", compared, current).alias("day"),
        pl.col(metric).alias("value"),
    )


def unit(result, metric: str) -> str:
    info = result.info(metric)
    return charts.unit_of(info.unit, info.format)


totals = ql.metrics(KPIS, compare=view.compare_arg, **query)
daily = ql.metrics(KPIS, grain="day", **query)
series = daily.combined().sort("period")
targets = kpi_targets()

st.caption(view.describe())
unfiltered_note(totals)

grid = st.grid(4, key="kpi_cards")
for name in KPIS:
    info = totals.info(name)
    with grid:
        kpi_card(
            card_for(
                totals,
                name,
                target=targets.get(name),
                trend=series[name].to_list() if name in series.columns else (),
            ),
            key=name,
        )


def _sessions() -> None:
    if not totals.value("sessions"):
        empty_state(
            "No sessions in this period: widen the date range or clear the segment filters."
        )
    else:
        trend = (
            st.segmented_control(
                "Session metric",
                options=list(SESSION_TREND),
                default="sessions",
                format_func=lambda m: totals.info(m).label,
                key="session_metric",
                bind="query-params",
            )
            or "sessions"
        )
        info = totals.info(trend)
        show_chart(
            charts.line_chart(
                series.select(pl.col("period").alias("day"), pl.col(trend).alias("value")),
                x="day",
                annotations=chart_notes(PAGE),
                y="value",
                title=f"{info.label} per day",
                y_title=info.label,
                unit=unit(totals, trend),
                comparison=overlay(trend, view),
                comparison_label=COMPARE_MODES[view.compare].lower(),
                select="session_day",
            ),
            key="session_trend",
            selection="session_day",
            drill={"day": "day"},
        )
        st.caption("Click a day to narrow the page to it; the breadcrumb above undoes it.")

        by_platform = ql.metrics(list(SESSION_TREND), group_by=[SESSION_PLATFORM], **query).frame
        per_day = ql.metrics(["sessions"], grain="day", group_by=[SESSION_PLATFORM], **query).frame
        left, right = st.columns(2)
        with left:
            show_chart(
                charts.bar_chart(
                    per_day.rename({SESSION_PLATFORM: "platform"}),
                    x="period",
                    y="sessions",
                    color="platform",
                    temporal=True,
                    annotations=chart_notes(PAGE),
                    unit="count",
                    title="Sessions per day by platform",
                ),
                key="sessions_by_platform_chart",
            )
        with right:
            st.markdown("**Length and frequency by platform**")
            data_table(
                by_platform.rename({SESSION_PLATFORM: "platform"})
                .select(
                    "platform",
                    "sessions",
                    (pl.col("avg_session_length") / 60).round(1).alias("avg_minutes"),
                    "sessions_per_user",
                )
                .sort("sessions", descending=True),
                key="platform_table",
                formats={"sessions": "count", "sessions_per_user": "number"},
                labels={
                    "platform": "Platform",
                    "sessions": "Sessions",
                    "avg_minutes": "Avg length (min)",
                    "sessions_per_user": "Sessions per user",
                },
            )
            st.caption(
                "Platform here is the device a session ran on (a member may use several); the "
                "Platform filter above selects members by their own platform. A session is a run of "
                "activity with no gap over 30 minutes."
            )


def _features() -> None:
    adoption = ql.table("eng_feature_adoption", order_by="adoption_rate_last_28d", page=PAGE).frame
    if adoption.is_empty():
        empty_state(
            "No `Feature Used` events in the data yet: the app sends them when a member uses a "
            "feature (properties.feature)."
        )
    else:
        window = (
            st.segmented_control(
                "Adoption over",
                options=["last_28d", "all"],
                default="last_28d",
                format_func={"last_28d": "Last 28 days", "all": "All data"}.get,
                key="adoption_window",
                bind="query-params",
            )
            or "last_28d"
        )
        rate = "adoption_rate_last_28d" if window == "last_28d" else "adoption_rate"
        as_of = freshness.data_end
        show_chart(
            charts.bar_chart(
                adoption.select("feature", pl.col(rate).alias("adoption")),
                x="feature",
                y="adoption",
                unit="percent",
                horizontal=True,
                title="Share of active members who used each feature",
            ),
            key="adoption_chart",
        )
        data_table(
            adoption.select(
                "feature",
                "users_last_28d",
                "adoption_rate_last_28d",
                "users",
                "adoption_rate",
                "uses",
                "uses_per_user",
                pl.col("first_used_at").dt.date().alias("first_used"),
                pl.col("last_used_at").dt.date().alias("last_used"),
            ).sort(rate, descending=True),
            key="adoption_table",
            formats={
                "users_last_28d": "count",
                "adoption_rate_last_28d": "percent",
                "users": "count",
                "adoption_rate": "percent",
                "uses": "count",
                "uses_per_user": "number",
            },
            labels={
                "feature": "Feature",
                "users_last_28d": "Users (28 d)",
                "adoption_rate_last_28d": "Adoption (28 d)",
                "users": "Users (all)",
                "adoption_rate": "Adoption (all)",
                "uses": "Uses",
                "uses_per_user": "Uses per user",
                "first_used": "First used",
                "last_used": "Last used",
            },
        )
        st.caption(
            "Adoption = members who used the feature / members active in the same window"
            + (f" (the 28 days ending {as_of:%b %d, %Y})" if as_of else "")
            + ". Computed over fixed windows for everyone: the date range and segment filters above "
            "do not apply here."
        )


def _journeys() -> None:
    paths = ql.table("eng_screen_paths", order_by="transitions", descending=True, page=PAGE).frame
    if paths.is_empty():
        empty_state(
            "No screen views in the data yet: screen calls (or `Screen Viewed` events) draw the "
            "journeys between screens."
        )
    else:
        screens = sorted(set(paths["from_screen"]) - {"(entry)"})
        with st.container(horizontal=True, vertical_alignment="bottom", key="journey_controls"):
            start_screen = st.selectbox(
                "From screen",
                options=["(any)", "(entry)", *screens],
                format_func=lambda s: {"(any)": "Any screen", "(entry)": "Session start"}.get(s, s),
                key="from_screen",
                bind="query-params",
                width=200,
            )
            top = st.number_input(
                "Links shown", min_value=5, max_value=60, value=20, step=5, key="links", width=130
            )
            repeats = st.toggle("Repeated views", value=False, key="repeats")
        links = paths
        if not repeats:
            links = links.filter(pl.col("from_screen") != pl.col("to_screen"))
        if start_screen and start_screen != "(any)":
            links = links.filter(pl.col("from_screen") == start_screen)
        links = links.sort("transitions", descending=True).head(int(top))
        # The mart's markers as people say them.
        names = {"(entry)": "Session start", "(exit)": "Session end"}
        links = links.with_columns(
            pl.col("from_screen").replace(names), pl.col("to_screen").replace(names)
        )
        if links.is_empty():
            empty_state(
                "No transitions from this screen: pick another screen or show repeated views."
            )
        else:
            show_chart(
                charts.flow_chart(
                    links,
                    title="Screen to next screen (the widest links)",
                    height=460 if start_screen in (None, "(any)") else 340,
                ),
                key="journey_flow",
            )
            data_table(
                links.select(
                    "from_screen",
                    "to_screen",
                    "transitions",
                    "sessions",
                    "users",
                    "share_of_from_screen",
                ),
                key="paths_table",
                formats={
                    "transitions": "count",
                    "sessions": "count",
                    "users": "count",
                    "share_of_from_screen": "percent",
                },
                labels={
                    "from_screen": "From",
                    "to_screen": "To",
                    "transitions": "Transitions",
                    "sessions": "Sessions",
                    "users": "Users",
                    "share_of_from_screen": "Share of From's exits",
                },
            )
        st.caption(
            "Transitions between consecutive screen views within a session, over all the data (the "
            "date range and segment filters do not apply). Share = how often members go to this "
            "screen next when they leave the From screen ('Session end' included)."
        )


def _stickiness() -> None:
    active = ql.metrics(["stickiness", "dau", "wau", "mau"], grain="day", **query).combined()
    active = active.sort("period")
    if active.is_empty():
        empty_state(
            "No activity in this period: widen the date range or clear the segment filters."
        )
    else:
        complete = ql.table(
            "eng_active_users_daily",
            columns=["activity_date"],
            where={"has_full_mau_window": True},
            order_by="activity_date",
            limit=1,
            page=PAGE,
        ).frame
        full_window = (
            complete["activity_date"][0]
            if complete.height
            else first_day + dt.timedelta(days=MAU_DAYS - 1)
        )
        notes = (
            [charts.Annotation(full_window, "MAU covers 30 days")]
            if period.contains(full_window)
            else []
        )
        left, right = st.columns(2)
        with left:
            show_chart(
                charts.line_chart(
                    active.select(
                        pl.col("period").alias("day"), pl.col("stickiness").alias("value")
                    ),
                    x="day",
                    annotations=(*notes, *chart_notes(PAGE)),
                    y="value",
                    title="Stickiness (DAU/MAU) per day",
                    y_title="DAU/MAU",
                    unit="percent",
                    comparison=overlay("stickiness", view, since=full_window),
                    comparison_label=COMPARE_MODES[view.compare].lower(),
                ),
                key="stickiness_chart",
            )
        with right:
            long = active.unpivot(
                index="period", on=["dau", "wau", "mau"], variable_name="metric"
            ).with_columns(pl.col("metric").str.to_uppercase())
            show_chart(
                charts.line_chart(
                    long.rename({"period": "day"}),
                    x="day",
                    annotations=(*notes, *chart_notes(PAGE)),
                    y="value",
                    color="metric",
                    title="Daily, weekly and monthly active members",
                    unit="count",
                ),
                key="active_chart",
            )
        if period.start < full_window:
            st.caption(
                f"Before {full_window:%b %d} the data holds fewer than 30 days, so MAU is undercounted "
                "and stickiness reads high (the comparison line starts there too)."
            )


section_tabs(
    {
        "Sessions": _sessions,
        "Feature usage and adoption": _features,
        "User journeys": _journeys,
        "Stickiness": _stickiness,
    }
)
