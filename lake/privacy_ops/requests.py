"""Erasure requests and their status in the app metadata database (SQLite / PostgreSQL).

A request names its subject only by ``lake.audit.subject_token`` (a keyed hash): the request
log itself must not keep the identifier it is there to erase.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping

from sqlalchemy import JSON, Column, DateTime, String, Table, insert, select, update

from core.metadata import METADATA, engine_for
from core.settings import Settings

STATUSES = ("pending", "running", "completed", "failed", "not_found")

erasure_requests = Table(
    "erasure_requests",
    METADATA,
    Column("id", String(32), primary_key=True),
    Column("subject", String(64), nullable=False, index=True),  # subject_token(...)
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # one of STATUSES
    Column("finished_at", DateTime(timezone=True)),
    Column("rows_removed", JSON),  # {table: rows}
    Column("error", String(2000)),  # the failure message (never holds the identifier)
)


def create(settings: Settings, subject: str) -> str:
    request_id = uuid.uuid4().hex
    with engine_for(settings).begin() as con:
        con.execute(
            insert(erasure_requests).values(
                id=request_id,
                subject=subject,
                requested_at=dt.datetime.now(dt.UTC),
                status="pending",
            )
        )
    return request_id


def set_status(
    settings: Settings,
    request_id: str,
    status: str,
    rows_removed: Mapping[str, int] | None = None,
    error: str | None = None,
) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown erasure request status {status!r}")
    values: dict[str, object] = {"status": status}
    if status in ("completed", "failed", "not_found"):
        values["finished_at"] = dt.datetime.now(dt.UTC)
    if rows_removed is not None:
        values["rows_removed"] = dict(rows_removed)
    if error is not None:
        values["error"] = error[:2000]
    with engine_for(settings).begin() as con:
        con.execute(
            update(erasure_requests).where(erasure_requests.c.id == request_id).values(**values)
        )


def get(settings: Settings, request_id: str) -> dict[str, object] | None:
    with engine_for(settings).connect() as con:
        row = con.execute(
            select(erasure_requests).where(erasure_requests.c.id == request_id)
        ).first()
    return dict(row._mapping) if row is not None else None


def for_subject(settings: Settings, subject: str) -> list[dict[str, object]]:
    with engine_for(settings).connect() as con:
        rows = con.execute(
            select(erasure_requests)
            .where(erasure_requests.c.subject == subject)
            .order_by(erasure_requests.c.requested_at)
        ).all()
    return [dict(r._mapping) for r in rows]
