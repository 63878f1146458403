"""Adoption (admin): are the stakeholders using the dashboards?

The seed's adoption criterion — more than 70 % of stakeholders actively using the dashboards —
measured by Pulse itself: the dashboards send their own page views and actions to the collector
(:mod:`apps.streamlit.usage`), dbt turns them into ``adp_weekly_adoption`` (week × role: accounts
active / accounts) and ``adp_page_usage`` (page × week), read here through the query layer.
Definitions: docs/metrics.md, "Adoption"; what is sent: docs/dashboards.md, "Adoption".
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import charts
from analytics.charts import format_value
from analytics.targets import STATE_LABELS, Target
from apps.streamlit.components.cards import STATE_COLORS
from apps.streamlit.components.layout import data_table, empty_state, page_header, show_chart
from apps.streamlit.queries import kpi_targets, query_layer
from core.settings import get_settings
from lake.gold import MartNotPublished

PAGE = "adoption"
TITLE = "Adoption"
ANSWERS = (
    "Are the stakeholders using the dashboards? The share of dashboard accounts active each "
    "week against the 70 % goal, who is active by role, and which pages they open."
)
TARGET_NAME = "dashboard_weekly_active_share"
DEFAULT_TARGET = Target(TARGET_NAME, 0.70, "up")

ql = query_layer()
try:
    weekly_all = ql.table("adp_weekly_adoption", order_by=["week_start", "role"], page=PAGE)
    pages_all = ql.table("adp_page_usage", order_by=["week_start", "page"], page=PAGE).frame
except MartNotPublished:
    page_header(TITLE, ANSWERS)
    empty_state(
        "No adoption data published yet: the dashboards' usage events become the adoption marts "
        "at the next `pulse materialize` (or `make demo`)."
    )
    st.stop()

page_header(TITLE, ANSWERS, weekly_all.freshness)
if not get_settings().dashboard_usage:
    st.warning(
        "Usage tracking is off (`PULSE_DASHBOARD_USAGE=off`): no new weeks will be recorded.",
        icon=":material/visibility_off:",
    )
weekly = weekly_all.frame
overall = weekly.filter(pl.col("role") == "all").sort("week_start")
if overall.is_empty():
    empty_state(
        "No dashboard usage recorded yet. Page views, filter changes, exports and saves are "
        "sent to the collector as people use the dashboards."
    )
    st.stop()

target = kpi_targets().get(TARGET_NAME, DEFAULT_TARGET)
weeks = overall["week_start"].to_list()
complete = overall.filter(pl.col("is_complete_week"))["week_start"].to_list()
default_week = complete[-1] if complete else weeks[-1]
week = st.selectbox(
    "Week",
    options=list(reversed(weeks)),
    index=list(reversed(weeks)).index(default_week),
    format_func=lambda d: f"Week of {d:%b %d, %Y}" + ("" if d in complete else " (so far)"),
    key="adoption_week",
    bind="query-params",
    width=260,
)
row = overall.filter(pl.col("week_start") == week).row(0, named=True)
before = overall.filter(pl.col("week_start") < week).tail(1)
previous = before.row(0, named=True) if before.height else None

# ---- cards --------------------------------------------------------------------------------------
share = row["share_active"]
state = target.state(share)
on_target = overall.filter(
    pl.col("is_complete_week") & (pl.col("share_active") >= target.value)
).height
grid = st.grid(4, key="adoption_cards")  # a row of four; stacked on a phone
with grid, st.container(border=True, key="card_share"):
    change = None
    if previous is not None and share is not None and previous["share_active"] is not None:
        change = (share - previous["share_active"]) * 100
    st.metric(
        "Stakeholders active",
        format_value(share, "percent"),
        delta=None if change is None else f"{change:+.1f} pts vs the week before",
        delta_color="normal" if change else "off",
        delta_arrow="auto" if change else "off",
        help=(
            f"Accounts with at least one dashboard event in the week / accounts that existed "
            f"by its end. Target ≥ {target.value:.0%} (seed goal). docs/metrics.md, Adoption."
        ),
    )
    if state is not None:
        st.badge(STATE_LABELS[state], color=STATE_COLORS[state])  # type: ignore[arg-type]
with grid, st.container(border=True, key="card_accounts"):
    st.metric(
        "Active accounts",
        f"{row['active_accounts']:,} of {row['accounts']:,}",
        help="Dashboard accounts active in the week, of all accounts.",
    )
with grid, st.container(border=True, key="card_views"):
    st.metric(
        "Page views",
        format_value(row["views"], "count"),
        delta=None if previous is None else f"{row['views'] - previous['views']:+,}",
        delta_color="off",
        help="`Dashboard Viewed` events in the week.",
    )
with grid, st.container(border=True, key="card_on_target"):
    st.metric(
        "Weeks on target",
        f"{on_target} of {len(complete)}",
        help=f"Complete weeks with at least {target.value:.0%} of the accounts active.",
    )

# ---- charts -------------------------------------------------------------------------------------
left, right = st.columns(2)
with left:
    trend = pl.concat(
        [
            overall.select(
                "week_start", value=pl.col("share_active"), series=pl.lit("Accounts active")
            ),
            overall.select(
                "week_start",
                value=pl.lit(target.value),
                series=pl.lit(f"Target ({target.value:.0%})"),
            ),
        ]
    )
    show_chart(
        charts.line_chart(
            trend,
            x="week_start",
            y="value",
            color="series",
            unit="percent",
            title="Share of accounts active each week",
            y_title="Share active",
            points=True,
        ),
        key="share_trend",
    )
with right:
    by_role = weekly.filter((pl.col("role") != "all") & (pl.col("accounts") > 0)).select(
        "week_start", "role", "active_accounts"
    )
    show_chart(
        charts.bar_chart(
            by_role,
            x="week_start",
            y="active_accounts",
            color="role",
            temporal=True,
            unit="count",
            title="Active accounts by role",
        ),
        key="role_trend",
    )

week_pages = pages_all.filter(pl.col("week_start") == week).sort("views", descending=True)
st.subheader(f"Pages, week of {week:%b %d}")
if week_pages.is_empty():
    empty_state("No page views that week.")
else:
    show_chart(
        charts.bar_chart(
            week_pages,
            x="page",
            y="views",
            horizontal=True,
            unit="count",
            title="Page views",
            height=max(160, 36 * week_pages.height),  # one readable label per page
        ),
        key="page_views",
    )
    data_table(
        week_pages.select("page", "views", "users", "filter_changes", "exports"),
        key="pages_table",
        formats={"views": "count", "users": "count", "filter_changes": "count", "exports": "count"},
        labels={
            "page": "Page",
            "views": "Views",
            "users": "Accounts",
            "filter_changes": "Filter changes",
            "exports": "Exports",
        },
    )

st.subheader("Every week")
data_table(
    overall.sort("week_start", descending=True).select(
        "week_start", "active_accounts", "accounts", "share_active", "views", "is_complete_week"
    ),
    key="weeks_table",
    formats={
        "week_start": "date",
        "active_accounts": "count",
        "accounts": "count",
        "share_active": "percent",
        "views": "count",
    },
    labels={
        "week_start": "Week of",
        "active_accounts": "Active accounts",
        "accounts": "Accounts",
        "share_active": "Share active",
        "views": "Page views",
        "is_complete_week": "Complete week",
    },
)
st.caption(
    "Dashboard accounts are not members: their events come from Pulse's internal source and "
    "count in no member metric. Usernames are never sent (a keyed hash stands in for them)."
)
