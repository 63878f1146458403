"""The alerts panel: open and acknowledged alerts from the same store as `pulse alerts`, with
acknowledge and resolve buttons for on-call (System page) or read-only (Executive page). Everyone
signed in sees the alerts; acknowledging or resolving needs the ``edit_alerts`` action (analyst),
and the store records who did it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import streamlit as st

from apps.streamlit.auth import current_user, require
from core.metadata import engine_for
from core.settings import get_settings
from orchestration.alerting.store import (
    AlertStateError,
    AlertView,
    acknowledge,
    list_views,
    resolve,
)

SEVERITY_COLORS = {"critical": "red", "error": "red", "warning": "orange", "info": "blue"}


@st.cache_resource(show_spinner=False)
def _engine():
    return engine_for(get_settings())


def active_alerts(limit: int = 200) -> list[AlertView]:
    """Open and acknowledged alerts, newest first."""
    engine = _engine()
    views = list_views(engine, "open", limit) + list_views(engine, "acknowledged", limit)
    return sorted(views, key=lambda v: v.alert.created_at, reverse=True)


def resolved_alerts(limit: int = 50) -> list[AlertView]:
    """The most recently raised resolved alerts (incident history), newest first."""
    return list_views(_engine(), "resolved", limit)


def _age(when: dt.datetime | None) -> str:
    if when is None:
        return ""
    seconds = int((dt.datetime.now(dt.UTC) - when.astimezone(dt.UTC)).total_seconds())
    if seconds < 3600:
        return f"{max(seconds // 60, 0)} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def alerts_panel(views: Iterable[AlertView], *, actions: bool, key: str) -> None:
    """One row per alert: severity, status, what and where, since when; acknowledge/resolve
    buttons when ``actions``."""
    views = list(views)
    if not views:
        st.success("No open alerts.", icon=":material/check_circle:")
        return
    for view in views:
        alert = view.alert
        with st.container(border=True, key=f"{key}_alert_{alert.id}"):
            head = st.container(horizontal=True, vertical_alignment="center")
            with head:
                st.badge(alert.severity, color=SEVERITY_COLORS.get(alert.severity, "gray"))  # type: ignore[arg-type]
                st.badge(alert.status, color="gray" if alert.status == "acknowledged" else "violet")
                where = view.target or alert.asset_key or alert.source
                st.markdown(f"**#{alert.id} {view.rule or alert.source}** · {where}")
                st.caption(
                    f"since {_age(view.since or alert.created_at)} · seen {view.occurrences}×"
                )
            st.caption(alert.message[:400])
            if not actions:
                continue
            clicked = None
            with st.container(horizontal=True):
                if alert.status == "open" and st.button("Acknowledge", key=f"{key}_ack_{alert.id}"):
                    clicked = acknowledge
                if st.button("Resolve", key=f"{key}_resolve_{alert.id}"):
                    clicked = resolve
            if clicked is not None:  # below the buttons: a refusal reads under what was clicked
                _act(clicked, alert.id)


def _act(action, alert_id: int) -> None:
    # Checked here, where the change happens: a viewer sees the buttons but not the change.
    if not require("edit_alerts"):
        return
    try:
        action(_engine(), alert_id, current_user().name)  # type: ignore[union-attr]
    except AlertStateError as exc:
        st.error(str(exc))
        return
    st.rerun()


def open_kpi_alerts(marts: Iterable[str]) -> None:
    """The active alerts on the given marts (read-only), or a line saying there are none."""
    wanted = set(marts)
    views = [
        v
        for v in active_alerts()
        if (v.alert.asset_key or "").split("/")[-1] in wanted or (v.target or "") in wanted
    ]
    alerts_panel(views, actions=False, key="kpi")
