"""Pulse's own source: the dashboards' usage events, sent to the collector like any app's.

- The source is named :data:`DASHBOARDS_SOURCE`; its write key is kept in
  ``<data>/secrets/dashboards_write_key`` (0600) so the dashboards can send with it, and
  :func:`ensure_dashboards_source` (re)registers it idempotently at every start.
- Every event carries ``anonymousId`` :data:`DASHBOARDS_ANONYMOUS_ID`: dbt keeps these events out of
  ``stg_events`` (so out of every member metric) and reads them in ``stg_dashboard_events`` (the
  ``internal_anonymous_ids`` macro of ``dbt_project/macros/event_catalog.sql`` lists it too).
- ``userId`` is :func:`dashboard_user_id`, an HMAC of the username with a key of its own
  (``<data>/secrets/dashboard_user_key``): pseudonymous, stable, never the name itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from core.settings import Settings
from lake.sources import WRITE_KEY_PREFIX, Source, ensure_source

DASHBOARDS_SOURCE = "pulse-dashboards"
DASHBOARDS_ANONYMOUS_ID = "pulse:dashboards"
# The events the dashboards send (schemas in lake/schemas/events; apps/streamlit/usage.py).
DASHBOARD_EVENTS = frozenset(
    {"Dashboard Viewed", "Filter Changed", "Export Downloaded", "Dashboard Saved"}
)
WRITE_KEY_FILE = "dashboards_write_key"
USER_KEY_FILE = "dashboard_user_key"
USER_ID_PREFIX = "dash_"


def secret_file(settings: Settings, name: str, make: str) -> str:
    """The secret in ``<data>/secrets/<name>``, created (0600, atomically) with ``make`` when the
    file is absent; a concurrent first start keeps whichever file landed first."""
    path: Path = settings.secrets_dir / name
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(make + "\n")
    return make


def dashboards_write_key(settings: Settings) -> str:
    return secret_file(settings, WRITE_KEY_FILE, WRITE_KEY_PREFIX + secrets.token_urlsafe(32))


def dashboard_user_id(settings: Settings, username: str) -> str:
    """The pseudonymous id of a dashboard account in events and marts (HMAC-SHA256 of the
    username; the same name always gives the same id, the id does not give the name)."""
    key = secret_file(settings, USER_KEY_FILE, secrets.token_hex(32))
    digest = hmac.new(key.encode(), username.strip().encode(), hashlib.sha256).hexdigest()
    return USER_ID_PREFIX + digest[:32]


def ensure_dashboards_source(settings: Settings) -> tuple[Source, str]:
    """Register the dashboards' source with its kept write key (idempotent); returns both."""
    from core.metadata import engine_for

    key = dashboards_write_key(settings)
    return ensure_source(engine_for(settings), DASHBOARDS_SOURCE, key), key
