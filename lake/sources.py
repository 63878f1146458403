"""Sources: the apps that send events, each with its own write key.

Only the SHA-256 hash of a write key is stored (and never logged): the plaintext is returned once
by :func:`create_source`. :func:`authenticate` looks the hash up (indexed), compares in constant
time, and caches results in-process (positive for a minute, negative briefly, so a key created by
another process, e.g. ``pulse sources create``, works within seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Column, DateTime, Engine, String, Table, Text, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.metadata import METADATA

SOURCES = Table(
    "sources",
    METADATA,
    Column("source_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("write_key_hash", String(64), nullable=False, unique=True, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("settings", Text, nullable=False, default="{}"),
)

WRITE_KEY_PREFIX = "pk_"
POSITIVE_TTL_S = 60.0
NEGATIVE_TTL_S = 2.0
_CACHE_MAX = 10_000

# Source settings (JSON): unknown_event_policy = "accept" | "quarantine".
DEFAULT_SOURCE_SETTINGS: dict[str, Any] = {"unknown_event_policy": "accept"}


class SourceExistsError(ValueError):
    """A source with this name already exists."""


@dataclass(frozen=True, slots=True)
class Source:
    source_id: str
    name: str
    created_at: datetime
    settings: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # never shows a key (there is none here), keeps logs short
        return f"Source({self.source_id!r}, {self.name!r})"


def hash_write_key(write_key: str) -> str:
    return hashlib.sha256(write_key.encode()).hexdigest()


def _row_to_source(row: Any) -> Source:
    created = row.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Source(row.source_id, row.name, created, orjson.loads(row.settings or "{}"))


def create_source(
    engine: Engine, name: str, settings: dict[str, Any] | None = None
) -> tuple[Source, str]:
    """Create a source; returns it and its plaintext write key (shown once, stored hashed)."""
    name = name.strip()
    if not name:
        raise ValueError("a source needs a non-empty name")
    write_key = WRITE_KEY_PREFIX + secrets.token_urlsafe(32)
    source = Source(
        source_id="src_" + secrets.token_hex(8),
        name=name,
        created_at=datetime.now(UTC),
        settings={**DEFAULT_SOURCE_SETTINGS, **(settings or {})},
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(SOURCES).values(
                    source_id=source.source_id,
                    name=source.name,
                    write_key_hash=hash_write_key(write_key),
                    created_at=source.created_at,
                    settings=orjson.dumps(source.settings).decode(),
                )
            )
    except IntegrityError:
        raise SourceExistsError(
            f"a source named {name!r} already exists; pick another name or use the existing one"
        ) from None
    _invalidate()
    return source, write_key


def ensure_source(
    engine: Engine, name: str, write_key: str, settings: dict[str, Any] | None = None
) -> Source:
    """The source ``name`` with ``write_key`` as its key, created or re-keyed as needed.

    For Pulse's own senders (the dashboards), which keep their key in a file: idempotent, so it
    can run at every start; a source of that name with another key gets this one (the old key
    stops working)."""
    if not write_key.startswith(WRITE_KEY_PREFIX) or len(write_key) < 20:
        raise ValueError(f"a write key starts with {WRITE_KEY_PREFIX!r} and is long and random")
    key_hash = hash_write_key(write_key)
    try:
        row = _ensure_row(engine, name, key_hash, settings)
    except IntegrityError:  # another process registered it at the same moment: re-key theirs
        row = _ensure_row(engine, name, key_hash, settings)
    _invalidate()
    return _row_to_source(row)


def _ensure_row(engine: Engine, name: str, key_hash: str, settings: dict[str, Any] | None) -> Any:
    with engine.begin() as conn:
        row = conn.execute(select(SOURCES).where(SOURCES.c.name == name)).first()
        if row is None:
            conn.execute(
                insert(SOURCES).values(
                    source_id="src_" + secrets.token_hex(8),
                    name=name,
                    write_key_hash=key_hash,
                    created_at=datetime.now(UTC),
                    settings=orjson.dumps({**DEFAULT_SOURCE_SETTINGS, **(settings or {})}).decode(),
                )
            )
        elif row.write_key_hash != key_hash:
            conn.execute(
                update(SOURCES).where(SOURCES.c.name == name).values(write_key_hash=key_hash)
            )
        return conn.execute(select(SOURCES).where(SOURCES.c.name == name)).one()


def list_sources(engine: Engine) -> list[Source]:
    with engine.connect() as conn:
        rows = conn.execute(select(SOURCES).order_by(SOURCES.c.created_at, SOURCES.c.name))
        return [_row_to_source(r) for r in rows]


# ---- authentication ----------------------------------------------------------------------------
_cache: dict[tuple[str, str], tuple[float, Source | None]] = {}
_cache_lock = threading.Lock()


def _invalidate() -> None:
    with _cache_lock:
        _cache.clear()


MISS = object()  # returned by :func:`cached_source` when the database must be asked


def cached_source(engine: Engine, write_key: str | None) -> Source | object | None:
    """The cached answer of :func:`authenticate` without I/O, or :data:`MISS`.

    Lets an event loop answer from memory and run only cache misses in a thread.
    """
    if not write_key or len(write_key) > 512:
        return None
    hit = _cache.get((str(engine.url), hash_write_key(write_key)))
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return MISS


def authenticate(engine: Engine, write_key: str | None) -> Source | None:
    """The source owning ``write_key``, or None. Cached in-process."""
    if not write_key or len(write_key) > 512:
        return None
    key_hash = hash_write_key(write_key)
    cache_key = (str(engine.url), key_hash)
    now = time.monotonic()
    hit = _cache.get(cache_key)
    if hit is not None and hit[0] > now:
        return hit[1]
    with engine.connect() as conn:
        row = conn.execute(select(SOURCES).where(SOURCES.c.write_key_hash == key_hash)).first()
    source = None
    if row is not None and hmac.compare_digest(row.write_key_hash, key_hash):
        source = _row_to_source(row)
    ttl = POSITIVE_TTL_S if source is not None else NEGATIVE_TTL_S
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[cache_key] = (now + ttl, source)
    return source
