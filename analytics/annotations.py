"""Annotations: a note on a day ("pricing change", "outage") that every time chart spanning it
shows, PostHog-style. Stored in the app metadata database (``core.metadata``: SQLite by default,
PostgreSQL with ``PULSE_METADATA_URL``; same code).

An annotation is global (every page) unless it names one page (its ``url_path``). Who may write
is decided by the caller (the dashboards check ``edit_annotations`` of ``core.roles``); the store
records who did (``author``, ``updated_by``) and keeps the text short and non-empty.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from core.metadata import METADATA

MAX_TEXT = 200  # a label on a chart, not a document
GLOBAL = "global"

annotations_table = sa.Table(
    "annotations",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("text", sa.String(MAX_TEXT), nullable=False),
    sa.Column("scope", sa.String(64), nullable=False, server_default=GLOBAL),
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("updated_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_annotations_day", "day"),
)


class AnnotationError(ValueError):
    """The annotation cannot be stored as given (the message says what to change)."""


class AnnotationNotFound(LookupError):
    """No annotation has this id (deleted meanwhile?)."""


@dataclass(frozen=True)
class StoredAnnotation:
    id: int
    day: dt.date
    text: str
    scope: str  # "global" or a page's url_path
    author: str
    updated_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


def clean_text(text: str) -> str:
    """The text as stored: trimmed, one line, 1–:data:`MAX_TEXT` characters."""
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise AnnotationError("Write what happened on that day (the note is empty).")
    if len(cleaned) > MAX_TEXT:
        raise AnnotationError(
            f"Keep the note to {MAX_TEXT} characters (it has {len(cleaned)}): it is a label "
            "on a chart."
        )
    return cleaned


def _scope(scope: str | None) -> str:
    value = (scope or GLOBAL).strip()
    if len(value) > 64 or not value.replace("-", "").replace("_", "").isalnum():
        raise AnnotationError(f"scope {scope!r}: 'global' or a page's url path (letters, - and _)")
    return value


def _author(author: str) -> str:
    if not author or not author.strip():
        raise AnnotationError("an annotation needs its author's username")
    return author.strip()[:128]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)  # SQLite drops the zone


def _row(row: sa.Row) -> StoredAnnotation:
    m = row._mapping
    return StoredAnnotation(
        id=m["id"],
        day=m["day"],
        text=m["text"],
        scope=m["scope"],
        author=m["author"],
        updated_by=m["updated_by"],
        created_at=_utc(m["created_at"]),
        updated_at=_utc(m["updated_at"]),
    )


def add(
    engine: Engine, *, day: dt.date, text: str, author: str, scope: str | None = None
) -> StoredAnnotation:
    """Store a note on ``day`` by ``author`` (global unless ``scope`` names a page)."""
    now = _now()
    values = {
        "day": day,
        "text": clean_text(text),
        "scope": _scope(scope),
        "author": _author(author),
        "updated_by": _author(author),
        "created_at": now,
        "updated_at": now,
    }
    with engine.begin() as con:
        new_id = con.execute(annotations_table.insert().values(**values)).inserted_primary_key[0]
    return get(engine, int(new_id))


def get(engine: Engine, annotation_id: int) -> StoredAnnotation:
    with engine.connect() as con:
        row = con.execute(
            sa.select(annotations_table).where(annotations_table.c.id == annotation_id)
        ).first()
    if row is None:
        raise AnnotationNotFound(f"no annotation {annotation_id} (deleted meanwhile?)")
    return _row(row)


def list_in_range(
    engine: Engine,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    page: str | None = None,
) -> list[StoredAnnotation]:
    """The notes from ``start`` to ``end`` (inclusive; None: unbounded) that a page shows:
    the global ones and, with ``page``, that page's own; by day, then creation."""
    t = annotations_table
    query = sa.select(t).order_by(t.c.day, t.c.id)
    if start is not None:
        query = query.where(t.c.day >= start)
    if end is not None:
        query = query.where(t.c.day <= end)
    scopes = [GLOBAL, page] if page else [GLOBAL]
    query = query.where(t.c.scope.in_(scopes))
    with engine.connect() as con:
        return [_row(r) for r in con.execute(query)]


def update(
    engine: Engine,
    annotation_id: int,
    *,
    author: str,
    day: dt.date | None = None,
    text: str | None = None,
    scope: str | None = None,
) -> StoredAnnotation:
    """Change a note's day, text or scope; ``author`` (who edits) is recorded as
    ``updated_by``, the original author is kept."""
    values: dict[str, object] = {"updated_by": _author(author), "updated_at": _now()}
    if day is not None:
        values["day"] = day
    if text is not None:
        values["text"] = clean_text(text)
    if scope is not None:
        values["scope"] = _scope(scope)
    with engine.begin() as con:
        done = con.execute(
            annotations_table.update()
            .where(annotations_table.c.id == annotation_id)
            .values(**values)
        ).rowcount
    if not done:
        raise AnnotationNotFound(f"no annotation {annotation_id} (deleted meanwhile?)")
    return get(engine, annotation_id)


def delete(engine: Engine, annotation_id: int) -> None:
    with engine.begin() as con:
        done = con.execute(
            annotations_table.delete().where(annotations_table.c.id == annotation_id)
        ).rowcount
    if not done:
        raise AnnotationNotFound(f"no annotation {annotation_id} (deleted meanwhile?)")
