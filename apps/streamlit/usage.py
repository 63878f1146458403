"""Adoption, measured by Pulse itself: the dashboards send their own page views and actions to
Pulse's collector, under the internal source (:mod:`lake.internal_source`).

One ``segment-analytics-python`` client per Streamlit process: :func:`track` puts the event on the
client's bounded in-memory queue and returns; the client's own thread posts batches to
``/v1/batch``. A page never waits for the collector and never sees its errors: when the collector
is down, the thread retries a little and drops; when the queue is full, new events are dropped.

Events (schemas in ``lake/schemas/events``): ``Dashboard Viewed`` (app.py, once per page view),
``Filter Changed`` (components/state.py), ``Export Downloaded`` (:func:`export_downloaded`) and
``Dashboard Saved`` (:func:`dashboard_saved`). ``userId`` is the pseudonymous id of the signed-in
account, never the username; no filter values are sent. ``PULSE_DASHBOARD_USAGE=off`` turns it all
off. See docs/dashboards.md, "Adoption".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from core.settings import Settings, get_settings

log = logging.getLogger(__name__)

QUEUE_SIZE = 1_000  # events held while the collector is slow or down; more are dropped
SEND_TIMEOUT_S = 3.0
SEND_RETRIES = 2
MAX_BACKOFF_S = 10.0  # give up on a batch after this long (the events are telemetry)

_lock = threading.Lock()
_clients: dict[tuple[str, str], Any] = {}
_user_ids: dict[str, str] = {}


def _client(settings: Settings) -> Any:
    """The process's client for the settings' collector (created once, with the source
    registered; a failure here is logged and retried at the next event)."""
    from segment.analytics import Client

    from lake.internal_source import ensure_dashboards_source

    endpoint = settings.dashboard_usage_endpoint
    cache_key = (str(settings.data_dir), endpoint)
    with _lock:
        client = _clients.get(cache_key)
        if client is None:
            _, write_key = ensure_dashboards_source(settings)
            client = Client(
                write_key,
                host=endpoint,
                max_queue_size=QUEUE_SIZE,
                timeout=SEND_TIMEOUT_S,
                max_retries=SEND_RETRIES,
                max_total_backoff_duration=MAX_BACKOFF_S,
                max_rate_limit_duration=MAX_BACKOFF_S,
                upload_interval=0.5,
                on_error=_on_error,
            )
            # The client logs each failed upload at ERROR with the batch: keep its logs quiet
            # (a down collector must not flood the app's log) and say it once from _on_error.
            client.log.setLevel(logging.CRITICAL)
            _clients[cache_key] = client
        return client


def _on_error(error: Exception, batch: list[dict[str, Any]]) -> None:
    log.warning("dashboard usage: %d event(s) not delivered (%s)", len(batch), type(error).__name__)


def user_id(settings: Settings, username: str) -> str:
    """The pseudonymous id events carry for ``username`` (cached per process)."""
    from lake.internal_source import dashboard_user_id

    cached = _user_ids.get(username)
    if cached is None:
        cached = _user_ids[username] = dashboard_user_id(settings, username)
    return cached


def _current() -> tuple[str, str] | None:
    """(username, role) of the signed-in person, or None."""
    from apps.streamlit.auth import current_user

    user = current_user()
    return (user.name, user.role) if user is not None else None


def track(
    event: str,
    properties: Mapping[str, Any] | None = None,
    *,
    user: tuple[str, str] | None = None,
    settings: Settings | None = None,
) -> bool:
    """Send ``event`` for the signed-in person (or ``user`` = (username, role)); True when it was
    queued. Never raises and never blocks on the network. Nothing is sent when usage tracking is
    off or nobody is signed in."""
    try:
        settings = settings or get_settings()
        if not settings.dashboard_usage:
            return False
        who = user or _current()
        if who is None:
            return False
        username, role = who
        from lake.internal_source import DASHBOARDS_ANONYMOUS_ID

        queued, _ = _client(settings).track(
            user_id=user_id(settings, username),
            anonymous_id=DASHBOARDS_ANONYMOUS_ID,
            event=event,
            properties={**(properties or {}), "role": role},
            context={"app": {"name": "pulse-dashboards"}},
        )
        return bool(queued)
    except Exception as exc:  # telemetry must never break a page
        log.warning("dashboard usage: %s not queued (%s: %s)", event, type(exc).__name__, exc)
        return False


def flush(timeout: float = 10.0) -> None:
    """Send what is queued now (tests, shutdown); waits at most about ``timeout`` seconds."""
    with _lock:
        clients = list(_clients.values())
    for client in clients:
        done = threading.Thread(target=client.flush, daemon=True)
        done.start()
        done.join(timeout)


# ---- the four events ---------------------------------------------------------------------------
def dashboard_viewed(page: str) -> bool:
    """A page view: ``page`` is its url_path (``executive``, ``adoption``, ...)."""
    return track("Dashboard Viewed", {"page": page})


def filter_changed(page: str | None, filters: list[str]) -> bool:
    """The global filters changed: ``filters`` names which ones (``range``, ``platform``...),
    never their values."""
    return track("Filter Changed", {"page": page or "", "filters": sorted(filters)})


def export_downloaded(kind: str, page: str) -> bool:
    """A download: ``kind`` is csv, xlsx, png, svg or pdf; ``page`` the url_path it came from.
    Call it from the download button's ``on_click``."""
    return track("Export Downloaded", {"kind": kind, "page": page})


def dashboard_saved(dashboard_id: str) -> bool:
    """A user's own dashboard was saved (the builder): its id, not its title."""
    return track("Dashboard Saved", {"dashboard_id": str(dashboard_id)})
