"""Dashboards you build: the list of yours and those shared with you (or your role), one open
dashboard (its id in the URL: ``/dashboards?dashboard=<id>`` is a link to it), and an edit mode
for analysts and admins — add widgets from the metric catalogue, resize, drag to reorder, save,
share with a role or a person, start from a template. Stored in the app metadata database
(:mod:`analytics.dashboards`); every number comes from the query layer."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

import streamlit as st
from streamlit_dnd import apply_move, dnd

from analytics.dashboards import (
    CHARTS,
    RELATIVE_RANGES,
    WIDTHS,
    Dashboard,
    DashboardError,
    DashboardStore,
    Widget,
    breakdown_label,
    breakdowns_for,
    chart_types_for,
    check_widget,
    load_templates,
)
from analytics.periods import Period
from apps.streamlit import usage
from apps.streamlit.auth import allowed, current_user, require
from apps.streamlit.components.layout import empty_state, page_header
from apps.streamlit.components.state import SEGMENT_LABELS, global_filters
from apps.streamlit.components.widgets import render_widget, widget_title
from apps.streamlit.queries import data_bounds, query_layer, segment_options
from core.metadata import engine_for
from core.roles import ROLES
from core.settings import get_settings

PARAM = "dashboard"  # the open dashboard's id in the URL
DRAFT = "dash_draft"  # the dashboard being edited: {"id", "version", "title", "widgets"}
GRID = "dash_grid"
SEEN_RANGE = "dash_seen_range"  # the page's date range at the last run (to notice a change)
DIALOG = "dash_dialog"  # the open dialog (new, share, add): kept open across reruns until closed
# Widths as shares of the grid row (minus the gap); one column on a phone.
GRID_CSS = """<style>
.st-key-dash_grid { gap: 1rem; }
.st-key-dash_grid > div { min-width: 0; }
.st-key-dash_grid > div:has([class*="st-key-w_third_"]) { flex: 0 0 calc(33.333% - 0.667rem); }
.st-key-dash_grid > div:has([class*="st-key-w_half_"]) { flex: 0 0 calc(50% - 0.5rem); }
.st-key-dash_grid > div:has([class*="st-key-w_two_thirds_"]) { flex: 0 0 calc(66.667% - 0.333rem); }
.st-key-dash_grid > div:has([class*="st-key-w_full_"]) { flex: 0 0 100%; }
@media (max-width: 640px) { .st-key-dash_grid > div { flex: 0 0 100% !important; } }
</style>"""


@st.cache_resource(show_spinner=False)
def dashboard_store(metadata_url: str) -> DashboardStore:
    ql = query_layer()
    return DashboardStore(engine_for(get_settings()), {m.name: m for m in ql.catalogue()})


@st.cache_data(ttl=60, show_spinner=False)
def templates(path: str | None) -> dict:
    ql = query_layer()
    return load_templates(path, {m.name: m for m in ql.catalogue()})


def _new_widget_id() -> str:
    return uuid.uuid4().hex[:12]


def _open(dashboard_id: str | None) -> None:
    st.session_state.pop(DRAFT, None)
    st.session_state.pop(DIALOG, None)
    if dashboard_id:
        st.query_params[PARAM] = dashboard_id
    else:
        st.query_params.pop(PARAM, None)


ql = query_layer()
store = dashboard_store(get_settings().metadata_db_url)
user = current_user()
page_header(
    "Dashboards",
    "Your own dashboards, and those shared with you: pick metrics, arrange them, share them.",
)
if user is None:
    empty_state("Sign in to see your dashboards and build your own.")
    st.stop()


# ---- dialogs ------------------------------------------------------------------------------------
def _close_dialog() -> None:
    st.session_state.pop(DIALOG, None)


def _show_dialog(name: str) -> None:
    st.session_state[DIALOG] = name


@st.dialog("New dashboard", on_dismiss=_close_dialog)
def new_dashboard_dialog() -> None:
    title = st.text_input("Title", placeholder="e.g. Growth weekly", key="new_title")
    if st.button("Create", type="primary", key="new_create"):
        if not require("edit_dashboards"):
            return
        try:
            made = store.create(user, title)
        except DashboardError as exc:
            st.error(str(exc))
            return
        _open(made.id)
        st.session_state[DRAFT] = _draft_of(made)
        st.rerun()


@st.dialog("Share dashboard", on_dismiss=_close_dialog)
def share_dialog(dashboard: Dashboard) -> None:
    st.markdown(f"**{dashboard.title}**")
    shares = store.shares(dashboard.id)
    if shares:
        st.caption("Shared with")
        for share in shares:
            with st.container(horizontal=True, vertical_alignment="center"):
                st.markdown(share.label())
                if st.button(
                    "Remove",
                    key=f"unshare_{share.grantee_kind}_{share.grantee}",
                    type="tertiary",
                    icon=":material/close:",
                ):
                    store.unshare(dashboard.id, user, share.grantee_kind, share.grantee)
                    st.rerun()
    else:
        st.caption(f"Only {dashboard.owner} and admins can see it now.")
    kind = st.segmented_control(
        "Share with", ["A role", "A person"], default="A role", key="share_kind"
    )
    if kind == "A person":
        grantee = st.text_input("Username", key="share_user", placeholder="their sign-in name")
    else:
        grantee = st.selectbox(
            "Role",
            ROLES,
            index=1,
            key="share_role",
            help="Everyone with this role or a higher one.",
        )
    permission = st.radio(
        "They can",
        ["view", "edit"],
        format_func={"view": "View", "edit": "View and edit"}.get,
        horizontal=True,
        key="share_permission",
    )
    if st.button("Share", type="primary", key="share_submit", icon=":material/share:"):
        if not require("edit_dashboards"):
            return
        try:
            args = {"user": grantee} if kind == "A person" else {"role": grantee}
            store.share(dashboard.id, user, permission=permission, **args)
        except DashboardError as exc:
            st.error(str(exc))
            return
        st.toast("Shared.", icon=":material/check:")
        _close_dialog()
        st.rerun()
    st.caption(f"Link: `/dashboards?{PARAM}={dashboard.id}`")


@st.dialog("Add a widget", width="large", on_dismiss=_close_dialog)
def add_widget_dialog() -> None:
    catalogue = {m.name: m for m in ql.catalogue()}
    categories = sorted({m.category for m in catalogue.values()})
    category = st.selectbox("Area", ["all", *categories], format_func=str.capitalize, key="aw_cat")
    names = sorted(
        (n for n, m in catalogue.items() if category == "all" or m.category == category),
        key=lambda n: catalogue[n].label.lower(),
    )
    metric = st.selectbox(
        "Metric", names, format_func=lambda n: catalogue[n].label, key="aw_metric"
    )
    info = catalogue[metric]
    st.caption(info.description or "")
    left, right = st.columns(2)
    with left:
        chart = st.selectbox(
            "Chart", chart_types_for(info), format_func=CHARTS.get, key=f"aw_chart_{metric}"
        )
    with right:
        width = st.selectbox("Width", list(WIDTHS), index=1, format_func=WIDTHS.get, key="aw_width")
    options = breakdowns_for(info) if chart != "kpi" else ()
    breakdown = st.selectbox(
        "Break down by",
        [None, *options],
        index=1 if chart == "stacked_bar" and options else 0,
        format_func=lambda b: "Nothing" if b is None else breakdown_label(b),
        key=f"aw_by_{metric}_{chart}",
        disabled=not options,
    )
    date_range = st.selectbox(
        "Date range",
        [None, *RELATIVE_RANGES],
        format_func=lambda r: "The page's date range" if r is None else RELATIVE_RANGES[r],
        key="aw_range",
    )
    segments = {}
    offered = [(s, segment_options(None).get(s) or []) for s in info.segments]
    offered = [(s, values) for s, values in offered if values]
    if offered:
        with st.expander("Filter this widget (optional)"):
            cells = st.columns(2)
            for i, (segment, values) in enumerate(offered):
                with cells[i % 2]:
                    picked = st.multiselect(
                        f"Only {SEGMENT_LABELS[segment].lower()}",
                        values,
                        key=f"aw_seg_{metric}_{segment}",
                        placeholder="All",
                    )
                if picked:
                    segments[segment] = picked
    title = st.text_input(
        "Title (optional)", key="aw_title", placeholder=f"{info.label}", max_chars=120
    )
    if st.button("Add to dashboard", type="primary", key="aw_add", icon=":material/add:"):
        try:
            widget = check_widget(
                {
                    "metric": metric,
                    "chart": chart,
                    "width": width,
                    "breakdown": breakdown,
                    "segments": segments,
                    "date_range": date_range,
                    "title": title,
                },
                catalogue,
            )
        except DashboardError as exc:
            st.error(str(exc))
            return
        draft = st.session_state[DRAFT]
        draft["widgets"].append(replace(widget, id=_new_widget_id()))
        _close_dialog()
        st.rerun()


def _draft_of(dashboard: Dashboard) -> dict:
    return {
        "id": dashboard.id,
        "version": dashboard.version,
        "title": dashboard.title,
        "widgets": list(dashboard.widgets),
    }


# ---- the list ---------------------------------------------------------------------------------
def show_list() -> None:
    listed = store.visible_to(user)
    mine = [x for x in listed if x.access == "owner"]
    shared = [x for x in listed if x.access != "owner"]
    can_edit = allowed("edit_dashboards")
    with st.container(horizontal=True, key="list_actions"):
        if can_edit and st.button(
            "New dashboard", type="primary", icon=":material/add:", key="new_dashboard"
        ):
            _show_dialog("new")
    if st.session_state.get(DIALOG) == "new":
        new_dashboard_dialog()
    st.subheader("Your dashboards")
    if not mine:
        empty_state(
            "You have no dashboards yet. Click **New dashboard** to compose one from the metric "
            "catalogue, or start from a template below."
            if can_edit
            else "You have no dashboards of your own (your role can view, not build). "
            "Dashboards shared with you or your role are listed below."
        )
    _cards(mine, "mine")
    st.subheader("Shared with you")
    if not shared:
        st.caption("Nothing shared with you or your role yet.")
    _cards(shared, "shared")
    st.subheader("Start from a template")
    st.caption("A copy you own: change it as you like, the template stays as it is.")
    try:
        available = templates(_templates_file())
    except DashboardError as exc:  # a bad PULSE_DASHBOARD_TEMPLATES_FILE: say which entry
        st.error(f"The dashboard templates could not be loaded: {exc}", icon=":material/error:")
        return
    grid = st.grid(3, key="templates")
    for name, template in available.items():
        with grid, st.container(border=True, key=f"template_{name}"):
            st.markdown(f"**{template.title}**")
            st.caption(f"{template.description} ({len(template.widgets)} widgets)")
            if st.button(
                "Use this template", key=f"use_{name}", icon=":material/content_copy:"
            ) and require("edit_dashboards"):
                made = store.create(
                    user,
                    template.title,
                    template.widgets,
                    description=template.description,
                    template=name,
                )
                _open(made.id)
                st.rerun()


def _templates_file() -> str | None:
    path = get_settings().dashboard_templates_file
    return str(path) if path else None


def _cards(listed: list, section: str) -> None:
    if not listed:
        return
    grid = st.grid(3, key=f"list_{section}")
    for item in listed:
        board = item.dashboard
        with grid, st.container(border=True, key=f"board_{board.id}"):
            st.markdown(f"**{board.title}**")
            who = "you" if item.access == "owner" else board.owner
            st.caption(
                f"{len(board.widgets)} widgets · by {who} · updated "
                f"{board.updated_at:%b %d, %H:%M}"
                + (" · can edit" if item.access == "edit" else "")
            )
            if st.button("Open", key=f"open_{board.id}", icon=":material/open_in_new:"):
                _open(board.id)
                st.rerun()


# ---- one dashboard ------------------------------------------------------------------------------
def show_dashboard(dashboard_id: str) -> None:
    try:
        dashboard = store.get(dashboard_id, user)
    except DashboardError as exc:
        st.error(str(exc), icon=":material/lock:")
        if st.button("All dashboards", icon=":material/arrow_back:", key="back_error"):
            _open(None)
            st.rerun()
        return
    access = store.access(dashboard_id, user)
    draft = st.session_state.get(DRAFT)
    editing = draft is not None and draft["id"] == dashboard.id
    with st.container(horizontal=True, vertical_alignment="center", key="dash_toolbar"):
        if st.button("All dashboards", icon=":material/arrow_back:", type="tertiary", key="back"):
            _open(None)
            st.rerun()
        if editing:
            if st.button("Add widget", icon=":material/add:", key="add_widget"):
                _show_dialog("add")
            if st.button("Save", type="primary", icon=":material/save:", key="save"):
                _save(dashboard, draft)
            if st.button("Cancel", key="cancel_edit"):
                st.session_state.pop(DRAFT, None)
                st.rerun()
            if access == "owner" or user.role == "admin":
                with st.popover("Delete", icon=":material/delete:", key="delete_menu"):
                    st.markdown(f"Delete “{dashboard.title}” for everyone it is shared with?")
                    if st.button("Delete dashboard", type="primary", key="delete_confirm"):
                        store.delete(dashboard.id, user)
                        _open(None)
                        st.toast(f"Deleted “{dashboard.title}”.", icon=":material/delete:")
                        st.rerun()
        else:
            can_edit_this = access in ("owner", "edit") and allowed("edit_dashboards")
            edit_type = "primary" if can_edit_this else "secondary"
            if st.button("Edit", icon=":material/edit:", key="edit", type=edit_type) and require(
                "edit_dashboards"
            ):
                if access in ("owner", "edit"):
                    st.session_state[DRAFT] = _draft_of(dashboard)
                    st.rerun()
                else:
                    st.error(
                        f"You can view “{dashboard.title}” but not edit it: ask "
                        f"{dashboard.owner} for edit access, or **Save a copy**.",
                        icon=":material/lock:",
                    )
            if st.button("Share", icon=":material/share:", key="share"):
                if require("edit_dashboards") and access in ("owner", "edit"):
                    _show_dialog("share")
                elif allowed("edit_dashboards"):
                    st.error("Only people who can edit this dashboard can share it.")
            if allowed("edit_dashboards") and st.button(
                "Save a copy", icon=":material/content_copy:", key="copy"
            ):
                copy = store.copy(dashboard.id, user)
                _open(copy.id)
                st.rerun()
            prefs = store.preferences(user.name)
            if prefs.default_dashboard != dashboard.id and st.button(
                "Make my default", icon=":material/home:", key="make_default", type="tertiary"
            ):
                store.set_preferences(user.name, default_dashboard=dashboard.id)
                st.toast("This dashboard now opens first.", icon=":material/home:")
    if st.session_state.get(DIALOG) == "add" and editing:
        add_widget_dialog()
    elif st.session_state.get(DIALOG) == "share" and access in ("owner", "edit"):
        share_dialog(dashboard)
    if editing:
        draft["title"] = st.text_input("Title", value=draft["title"], key=f"title_{dashboard.id}")
        st.info(
            "Editing: **drag a card by its border** to move it, pick its width, or remove it; "
            "**Add widget** adds one; **Save** keeps the layout for everyone it is shared with.",
            icon=":material/edit:",
        )
    else:
        st.header(dashboard.title, anchor=False)
        by = "you" if dashboard.owner == user.name else dashboard.owner
        st.caption(
            f"By {by} · version {dashboard.version}, saved {dashboard.updated_at:%b %d %H:%M UTC}"
            f" by {dashboard.updated_by or dashboard.owner}"
            + ("" if access in ("owner", "edit") else " · view only")
        )
    widgets: list[Widget] = draft["widgets"] if editing else list(dashboard.widgets)
    bounds = data_bounds(ql)
    if bounds is None:
        empty_state("No published data yet: run `pulse materialize` (or `make demo`).")
        return
    first_day, last_day, freshness = bounds
    last = _last_range(first_day, last_day)
    view = global_filters(
        first_day,
        last_day,
        segment_options(freshness.publication_id),
        **({"default_days": last.days, "default_end": last.end} if last else {}),
    )
    _remember_range(view.period)
    if not widgets:
        empty_state(
            "This dashboard is empty. Click **Add widget** to pick a metric and a chart."
            if editing
            else "This dashboard is empty. Click **Edit**, then **Add widget**."
        )
        return
    st.html(GRID_CSS)
    with st.container(horizontal=True, wrap=True, key=GRID):
        for widget in widgets:
            # A KPI card has its own border; while editing every card shows its (drag) border.
            border = editing or widget.chart != "kpi"
            with st.container(border=border, key=f"w_{widget.width}_{widget.id}"):
                if editing:
                    _edit_controls(widget, draft)
                try:
                    render_widget(ql, widget, view, first_day, last_day, key=f"wd_{widget.id}")
                except Exception as exc:  # one broken widget must not blank the dashboard
                    st.error(f"{widget_title(widget, ql.info(widget.metric))}: {exc}")
    if editing:
        event = dnd(GRID, key="dash_dnd", indicator="ghost", handle="border")
        if event is not None:
            apply_move(event, draft["widgets"])
            st.rerun()


def _last_range(first_day: dt.date, last_day: dt.date) -> Period | None:
    """The date range the person last looked at (their preference), as the page's default; a
    range in the URL still wins (the picker reads the URL)."""
    last = store.preferences(user.name).last_date_range
    return last.resolve(first_day, last_day) if last is not None else None


def _remember_range(period: Period) -> None:
    """Store the range as the person's preference when they change it (not on every run)."""
    seen = st.session_state.get(SEEN_RANGE)
    st.session_state[SEEN_RANGE] = period
    if seen is not None and seen != period:
        store.set_preferences(user.name, last_date_range={"start": period.start, "end": period.end})


def _edit_controls(widget: Widget, draft: dict) -> None:
    with st.container(horizontal=True, vertical_alignment="center", key=f"ctl_{widget.id}"):
        st.caption(":material/drag_indicator: drag")
        width = st.selectbox(
            "Width",
            list(WIDTHS),
            index=list(WIDTHS).index(widget.width),
            format_func=WIDTHS.get,
            key=f"width_{widget.id}",
            label_visibility="collapsed",
            width=110,
        )
        if width != widget.width:
            draft["widgets"] = [
                replace(w, width=width) if w.id == widget.id else w for w in draft["widgets"]
            ]
            st.rerun()
        if st.button(
            "Remove", key=f"remove_{widget.id}", icon=":material/delete:", type="tertiary"
        ):
            draft["widgets"] = [w for w in draft["widgets"] if w.id != widget.id]
            st.rerun()


def _save(dashboard: Dashboard, draft: dict) -> None:
    if not require("edit_dashboards"):
        return
    try:
        stale = replace(dashboard, version=draft["version"])
        saved = store.save(stale, user, title=draft["title"], widgets=draft["widgets"])
    except DashboardError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.session_state.pop(DRAFT, None)
    usage.dashboard_saved(saved.id)
    st.toast(f"Saved “{saved.title}” (version {saved.version}).", icon=":material/check:")
    st.rerun()


opened = st.query_params.get(PARAM)
if not opened and "dash_default_checked" not in st.session_state:
    # The first visit of a session opens the person's default dashboard, if they chose one.
    st.session_state["dash_default_checked"] = True
    opened = store.preferences(user.name).default_dashboard
    if opened:
        st.query_params[PARAM] = opened
if opened:
    show_dashboard(opened)
else:
    show_list()
