"""The privacy audit log: an append-only Delta table of every privacy operation.

Consent changes, erasures, exports, key rotations and retention deletions each append one row
(who, when, what, row counts). Nothing here updates or deletes a row: the only write is
:func:`record`, one Delta append per call, so the table's own version history shows that no entry
was changed after the fact. Erasure and retention never touch this table.

A data subject is never stored by their raw identifier: :func:`subject_token` is a keyed hash
(HMAC-SHA256 with the PII key and its own domain label, so it differs from the pseudonyms that
appear in event rows, which an erasure removes).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from deltalake import DeltaTable

from core.settings import Settings

ACTIONS = (
    "consent_change",
    "erasure_requested",
    "erasure",
    "export",
    "key_rotation",
    "retention_archive",
    "retention_delete",
)
SUBJECT_PREFIX = "subj:"
_SUBJECT_DOMAIN = b"pulse-audit-subject\x00"

AUDIT_SCHEMA = pa.schema(
    [
        pa.field("audit_id", pa.string(), nullable=False),
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field(
            "actor", pa.string(), nullable=False
        ),  # os user, "collector:<id>", "dagster:<run>"
        pa.field("action", pa.string(), nullable=False),  # one of ACTIONS
        pa.field("subject", pa.string()),  # subject_token(...) of the data subject, if any
        pa.field("target", pa.string()),  # table / partition / file the action touched
        pa.field("rows", pa.int64()),  # rows affected (removed, exported, archived ...)
        pa.field("status", pa.string(), nullable=False),  # ok | failed | dry_run | ...
        pa.field("details", pa.string()),  # JSON: anything else worth keeping (never raw PII)
    ]
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    actor: str = field(default_factory=lambda: default_actor())
    subject: str | None = None
    target: str | None = None
    rows: int | None = None
    status: str = "ok"
    details: Mapping[str, Any] | None = None
    at: dt.datetime | None = None  # default: now (UTC)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}; expected one of {ACTIONS}")
        if self.subject is not None and not self.subject.startswith(SUBJECT_PREFIX):
            raise ValueError("audit subjects must be subject_token(...) values, never raw ids")


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def subject_token(settings: Settings, user_id: str, key: str | None = None) -> str:
    """The keyed hash that stands for a data subject in audit rows and request records."""
    secret = (key or settings.pii_hmac_key).encode()
    digest = hmac.new(secret, _SUBJECT_DOMAIN + user_id.encode(), hashlib.sha256).hexdigest()
    return SUBJECT_PREFIX + digest[:32]


def audit_path(settings: Settings) -> Path:
    return settings.table_path("system", "privacy_audit")


def record(settings: Settings, entries: AuditEntry | Sequence[AuditEntry]) -> int:
    """Append entries in one Delta commit; returns how many were written."""
    from lake.writer import append_table

    batch = [entries] if isinstance(entries, AuditEntry) else list(entries)
    if not batch:
        return 0
    now = dt.datetime.now(dt.UTC)
    columns: dict[str, list[Any]] = {name: [] for name in AUDIT_SCHEMA.names}
    for e in batch:
        columns["audit_id"].append(uuid.uuid4().hex)
        columns["at"].append(e.at or now)
        columns["actor"].append(e.actor)
        columns["action"].append(e.action)
        columns["subject"].append(e.subject)
        columns["target"].append(e.target)
        columns["rows"].append(e.rows)
        columns["status"].append(e.status)
        columns["details"].append(
            orjson.dumps(dict(e.details), option=orjson.OPT_SORT_KEYS).decode()
            if e.details
            else None
        )
    table = pa.Table.from_pydict(columns, schema=AUDIT_SCHEMA)
    return append_table(audit_path(settings), table)


def read(
    settings: Settings,
    *,
    action: str | None = None,
    subject: str | None = None,
    since: dt.datetime | None = None,
) -> pa.Table:
    """Audit rows, oldest first, optionally filtered (an empty table if nothing was audited)."""
    path = audit_path(settings)
    if not DeltaTable.is_deltatable(str(path)):
        return AUDIT_SCHEMA.empty_table()
    import pyarrow.compute as pc

    table = DeltaTable(str(path)).to_pyarrow_table()
    mask = None
    for column, value in (("action", action), ("subject", subject)):
        if value is not None:
            cond = pc.equal(table[column].cast(pa.string()), value)
            mask = cond if mask is None else pc.and_(mask, cond)
    if since is not None:
        cond = pc.greater_equal(table["at"], pa.scalar(since, AUDIT_SCHEMA.field("at").type))
        mask = cond if mask is None else pc.and_(mask, cond)
    if mask is not None:
        table = table.filter(mask)
    return table.sort_by([("at", "ascending"), ("audit_id", "ascending")]).cast(AUDIT_SCHEMA)
