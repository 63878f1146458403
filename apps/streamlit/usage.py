"""Adoption, measured by Pulse itself: the dashboards send their own page views and actions to
Pulse's collector, under the internal source (:mod:`lake.internal_source`).

:func:`track` puts the event on a bounded in-memory queue and returns; one sender thread per
Streamlit process registers the source (once), hashes the username and hands the event to the
official ``segment-analytics-python`` client, whose own thread posts batches to ``/v1/batch``. A
page never waits for the collector or the metadata database and never sees their errors: when
the collector is down the client retries a little and drops; when a queue is full, new events
are dropped.

Events (schemas in ``lake/schemas/events``): ``Dashboard Viewed`` (app.py, once per page view),
``Filter Changed`` (components/state.py), ``Export Downloaded`` (:func:`export_downloaded`) and
``Dashboard Saved`` (:func:`dashboard_saved`). ``userId`` is the pseudonymous id of the signed-in
account, never the username; no filter values are sent. ``PULSE_DASHBOARD_USAGE=off`` turns it all
off. See docs/dashboards.md, "Adoption".
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from core.settings import Settings, get_settings

log = logging.getLogger(__name__)
# The url_path of the page being viewed (set by app.py with each `Dashboard Viewed`).
VIEWED_KEY = "_usage_viewed"

QUEUE_SIZE = 1_000  # events waiting for the sender thread; more are dropped
SEND_TIMEOUT_S = 3.0
SEND_RETRIES = 2
MAX_BACKOFF_S = 10.0  # the client gives up on a batch after this long (the events are telemetry)
SETUP_RETRY_S = 30.0  # after a failed setup (metadata database down), drop events this long

_queue: queue.Queue[tuple[Settings, str, str, str, dict[str, Any]]] = queue.Queue(QUEUE_SIZE)
_lock = threading.Lock()
_worker: threading.Thread | None = None
_clients: dict[tuple[str, str], Any] = {}
_user_ids: dict[tuple[str, str], str] = {}
_setup_failed_at: float | None = None
_dropped = 0  # events given up on (queue full, setup failed, collector unreachable)


def dropped() -> int:
    """Events this process has given up on so far (for tests and the log)."""
    return _dropped


def _drop(n: int = 1) -> None:
    global _dropped
    _dropped += n


def track(
    event: str,
    properties: Mapping[str, Any] | None = None,
    *,
    user: tuple[str, str] | None = None,
    settings: Settings | None = None,
) -> bool:
    """Queue ``event`` for the signed-in person (or ``user`` = (username, role)); True when it
    was queued. Never raises and never waits: the sender thread does the rest (registering the
    source, hashing the name, posting). Nothing is sent when usage tracking is off or nobody is
    signed in."""
    try:
        settings = settings or get_settings()
        if not settings.dashboard_usage:
            return False
        who = user or _current()
        if who is None:
            return False
        username, role = who
        _queue.put_nowait((settings, event, username, role, dict(properties or {})))
        _start_worker()
        return True
    except queue.Full:
        _drop()
        return False
    except Exception as exc:  # telemetry must never break a page
        log.warning("dashboard usage: %s not queued (%s: %s)", event, type(exc).__name__, exc)
        return False


def flush(timeout: float = 10.0, settings: Settings | None = None) -> bool:
    """Wait (at most about ``timeout`` s) until what is queued now has been posted or given up
    on (see :func:`dropped`), for the collector of ``settings`` (default: every collector);
    True when those queues are empty. For tests and shutdown."""
    deadline = time.monotonic() + timeout
    while _queue.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.02)
    with _lock:
        if settings is None:
            clients = list(_clients.values())
        else:
            key = (str(settings.data_dir), settings.dashboard_usage_endpoint)
            clients = [c for k, c in _clients.items() if k == key]
    for client in clients:
        done = threading.Thread(target=client.flush, daemon=True)
        done.start()
        done.join(max(0.0, deadline - time.monotonic()))
    return not _queue.unfinished_tasks and all(c.queue.unfinished_tasks == 0 for c in clients)


def _current() -> tuple[str, str] | None:
    """(username, role) of the signed-in person, or None."""
    from apps.streamlit.auth import current_user

    user = current_user()
    return (user.name, user.role) if user is not None else None


def _start_worker() -> None:
    global _worker
    if _worker is not None and _worker.is_alive():
        return
    with _lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_send_forever, name="pulse-usage", daemon=True)
            _worker.start()


def _send_forever() -> None:
    while True:
        settings, event, username, role, properties = _queue.get()
        try:
            _send(settings, event, username, role, properties)
        except Exception as exc:  # never let the thread die: log and go on
            _drop()
            log.warning("dashboard usage: %s dropped (%s: %s)", event, type(exc).__name__, exc)
        finally:
            _queue.task_done()


def _send(
    settings: Settings, event: str, username: str, role: str, properties: dict[str, Any]
) -> None:
    from lake.internal_source import DASHBOARDS_ANONYMOUS_ID

    client = _client(settings)
    if client is None:
        _drop()
        return
    queued, _ = client.track(
        user_id=user_id(settings, username),
        anonymous_id=DASHBOARDS_ANONYMOUS_ID,
        event=event,
        properties={**properties, "role": role},
        context={"app": {"name": "pulse-dashboards"}},
    )
    if not queued:
        _drop()


def _client(settings: Settings) -> Any | None:
    """The client for the settings' collector, created once with the source registered; None
    (events dropped) for a while after the setup failed."""
    global _setup_failed_at
    endpoint = settings.dashboard_usage_endpoint
    cache_key = (str(settings.data_dir), endpoint)
    client = _clients.get(cache_key)
    if client is not None:
        return client
    if _setup_failed_at is not None and time.monotonic() - _setup_failed_at < SETUP_RETRY_S:
        return None
    from segment.analytics import Client

    from lake.internal_source import ensure_dashboards_source

    try:
        _, write_key = ensure_dashboards_source(settings)
    except Exception as exc:
        _setup_failed_at = time.monotonic()
        log.warning(
            "dashboard usage off for %.0f s: the internal source could not be registered (%s: %s)",
            SETUP_RETRY_S,
            type(exc).__name__,
            exc,
        )
        return None
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
    # The client logs each failed upload at ERROR with the whole batch: keep it quiet (a down
    # collector must not flood the app's log) and say it once per batch from _on_error.
    client.log.setLevel(logging.CRITICAL)
    with _lock:
        _clients[cache_key] = client
    return client


def _on_error(error: Exception, batch: list[dict[str, Any]]) -> None:
    _drop(len(batch))
    log.warning("dashboard usage: %d event(s) not delivered (%s)", len(batch), type(error).__name__)


def user_id(settings: Settings, username: str) -> str:
    """The pseudonymous id events carry for ``username`` (cached per process)."""
    from lake.internal_source import dashboard_user_id

    key = (str(settings.data_dir), username)
    cached = _user_ids.get(key)
    if cached is None:
        cached = _user_ids[key] = dashboard_user_id(settings, username)
    return cached


# ---- the four events ---------------------------------------------------------------------------
def dashboard_viewed(page: str) -> bool:
    """A page view: ``page`` is its url_path (``executive``, ``adoption``, ...)."""
    return track("Dashboard Viewed", {"page": page})


def filter_changed(page: str | None, filters: list[str]) -> bool:
    """The global filters changed: ``filters`` names which ones (``range``, ``platform``...),
    never their values."""
    return track("Filter Changed", {"page": page or "", "filters": sorted(filters)})


def export_downloaded(kind: str, page: str, *, user: tuple[str, str] | None = None) -> bool:
    """A download: ``kind`` is csv, xlsx, png, svg or pdf; ``page`` the url_path it came from.
    Downloads built on click send it through :func:`counted_download`."""
    return track("Export Downloaded", {"kind": kind, "page": page}, user=user)


def dashboard_saved(dashboard_id: str) -> bool:
    """A user's own dashboard was saved (the builder): its id, not its title."""
    return track("Dashboard Saved", {"dashboard_id": str(dashboard_id)})


def counted_download(kind: str, build: Callable[[], Any]) -> Callable[[], Any]:
    """``build`` (a deferred ``st.download_button`` data callable) that also sends `Export
    Downloaded` when it runs, i.e. when the button is clicked. It runs in a worker thread
    without the session, so the person and the page are taken now."""
    who = _current()
    page = st.session_state.get(VIEWED_KEY, "")

    def run() -> Any:
        export_downloaded(kind, page, user=who)
        return build()

    return run
