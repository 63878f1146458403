"""Consent: what each user allowed, read from their own messages, enforced at the door.

Two message shapes change consent (docs/privacy.md, "Consent"):

* a track event ``Consent Updated`` whose properties hold the categories,
  ``{"analytics": false, "marketing": false, "personalization": true}``;
* an identify call whose traits hold them, ``traits.consent = {"analytics": true, ...}``.

A category that is absent (or not a boolean) is left as it was. Each change becomes one row of
the append-only ledger ``bronze/consent`` (:data:`lake.tables.CONSENT_SCHEMA`), written through
the same WAL and flusher as events, so it lands exactly once.

The gate (:class:`ConsentGate`) holds every user's current analytics consent, keyed by
``user_id`` and by ``anonymous_id`` (a consent message sets both, so logged-out events of that
device are covered too). An event is checked by its ``user_id`` when it has one, else by its
``anonymous_id``; an identity with no record gets the configured default
(``PULSE_CONSENT_DEFAULT``). The state is rebuilt from the ledger when a collector starts and,
when ``PULSE_REDIS_URL`` is set, shared by every replica through one Redis hash.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.settings import Settings

log = logging.getLogger(__name__)

CATEGORIES = ("analytics", "marketing", "personalization")
CONSENT_EVENT = "Consent Updated"
CONSENT = "consent"  # WAL record kind and bronze table name
DEFAULT_KEY_PREFIX = "pulse:consent:"


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One consent message: the categories it set (None: unchanged) and who it is about."""

    user_id: str | None
    anonymous_id: str | None
    analytics: bool | None
    marketing: bool | None
    personalization: bool | None

    @property
    def keys(self) -> list[str]:
        return [k for k in (self.user_id, self.anonymous_id) if k]


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def consent_change(message: dict[str, Any]) -> ConsentChange | None:
    """The consent a (masked, valid) message sets, or None if it sets none."""
    mtype = message.get("type")
    if mtype == "track" and message.get("event") == CONSENT_EVENT:
        values = message.get("properties")
    elif mtype == "identify":
        traits = message.get("traits")
        values = traits.get("consent") if isinstance(traits, dict) else None
    else:
        return None
    if not isinstance(values, dict):
        return None
    flags = [_flag(values.get(c)) for c in CATEGORIES]
    if all(f is None for f in flags):
        return None
    uid, aid = message.get("userId"), message.get("anonymousId")
    return ConsentChange(
        uid if isinstance(uid, str) and uid else None,
        aid if isinstance(aid, str) and aid else None,
        *flags,
    )


def ledger_row(change: ConsentChange, event_row: dict[str, Any], source: str) -> dict[str, Any]:
    """The ``bronze/consent`` row of a change carried by a normalized event row."""
    return {
        "message_id": event_row["message_id"],
        "user_id": change.user_id,
        "anonymous_id": change.anonymous_id,
        "analytics": change.analytics,
        "marketing": change.marketing,
        "personalization": change.personalization,
        "source": source,  # "track" or "identify"
        "source_id": event_row["source_id"],
        "effective_at": event_row["timestamp"],
        "received_at": event_row["received_at"],
    }


def identity_key(user_id: Any, anonymous_id: Any) -> str | None:
    """The identity a message is gated by: its user_id, else its anonymous_id."""
    if isinstance(user_id, str) and user_id:
        return user_id
    if isinstance(anonymous_id, str) and anonymous_id:
        return anonymous_id
    return None


class ConsentGate:
    """Current analytics consent per identity (in-process; see :class:`RedisConsent`)."""

    def __init__(self, default: bool = True) -> None:
        self.default = default
        self.analytics: dict[str, bool] = {}
        self.changes = 0

    def allows(self, key: str | None) -> bool:
        if key is None:
            return self.default
        return self.analytics.get(key, self.default)

    def apply(self, change: ConsentChange) -> None:
        if change.analytics is None:
            return
        for key in change.keys:
            self.analytics[key] = change.analytics
        self.changes += 1

    def apply_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        """Replay ledger rows (in the order they were written)."""
        for row in rows:
            if row.get("analytics") is not None:
                for key in (row.get("user_id"), row.get("anonymous_id")):
                    if key:
                        self.analytics[key] = bool(row["analytics"])

    @property
    def withdrawn(self) -> int:
        return sum(1 for v in self.analytics.values() if not v)


def default_consent(settings: Settings) -> bool:
    return settings.consent_default == "granted"


def load_ledger(settings: Settings) -> list[dict[str, Any]]:
    """Every ledger row, in write order (received_at, then collector sequence).

    Reads the table's active Parquet files with pyarrow.parquet: ``to_pyarrow_table`` would import
    pyarrow.dataset (seconds on a busy machine), and this runs while a collector starts."""
    from deltalake import DeltaTable

    path = settings.table_path("bronze", CONSENT)
    if not DeltaTable.is_deltatable(str(path)):
        return []
    from lake.delta_files import local_data_files

    files = local_data_files(DeltaTable(str(path)))
    if files is None:
        raise ValueError(f"the consent ledger {path} must be a local Delta table")
    if not files:
        return []
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = ["user_id", "anonymous_id", "analytics", "received_at", "sequence"]
    table = pa.concat_tables(pq.read_table(f, columns=columns) for f in files)
    table = table.sort_by([("received_at", "ascending"), ("sequence", "ascending")])
    return table.to_pylist()


def rebuild_gate(settings: Settings, extra_rows: Iterable[dict[str, Any]] = ()) -> ConsentGate:
    """The gate as the ledger (plus rows not yet flushed, e.g. from the WAL) says."""
    gate = ConsentGate(default=default_consent(settings))
    gate.apply_rows(load_ledger(settings))
    gate.apply_rows(extra_rows)
    return gate


class RedisConsent:
    """Shares the gate's state across replicas: one Redis hash ``<prefix>analytics``
    (identity → ``"1"``/``"0"``). Before a batch is checked, the identities it names are read
    into the local gate (one HMGET); each change is written through (HSET)."""

    def __init__(self, client: Any, gate: ConsentGate, key_prefix: str = DEFAULT_KEY_PREFIX):
        self.client = client
        self.gate = gate
        self.hash = key_prefix + "analytics"

    @classmethod
    def from_url(cls, url: str, gate: ConsentGate, key_prefix: str = DEFAULT_KEY_PREFIX):
        import redis.asyncio as aioredis

        return cls(aioredis.Redis.from_url(url), gate, key_prefix)

    async def seed(self) -> None:
        """Publish the ledger state without overwriting what replicas already hold (HSETNX)."""
        if not self.gate.analytics:
            return
        pipe = self.client.pipeline(transaction=False)
        for key, value in self.gate.analytics.items():
            pipe.hsetnx(self.hash, key, "1" if value else "0")
        await pipe.execute()

    async def refresh(self, keys: Iterable[str]) -> None:
        wanted = list({k for k in keys if k})
        if not wanted:
            return
        values = await self.client.hmget(self.hash, wanted)
        analytics = self.gate.analytics
        for key, value in zip(wanted, values, strict=True):
            if value is not None:
                analytics[key] = value in (b"1", "1")

    async def publish(self, changes: Iterable[ConsentChange]) -> None:
        mapping: dict[str, str] = {}
        for change in changes:
            if change.analytics is not None:
                for key in change.keys:
                    mapping[key] = "1" if change.analytics else "0"
        if mapping:
            await self.client.hset(self.hash, mapping=mapping)

    async def aclose(self) -> None:
        await self.client.aclose()


def message_keys(messages: Iterable[Any]) -> list[str]:
    """Identity keys a batch of raw messages names (for :meth:`RedisConsent.refresh`)."""
    keys: list[str] = []
    for m in messages:
        if isinstance(m, dict):
            for field in ("userId", "anonymousId"):
                v = m.get(field)
                if isinstance(v, str) and v:
                    keys.append(v)
    return keys


def audit_changes(settings: Settings, rows: list[dict[str, Any]], actor: str) -> int:
    """One ``consent_change`` audit entry per ledger row (subject: the keyed subject token)."""
    from lake.audit import AuditEntry, record, subject_token

    entries = []
    for row in rows:
        who = row.get("user_id") or row.get("anonymous_id")
        entries.append(
            AuditEntry(
                action="consent_change",
                actor=actor,
                subject=subject_token(settings, who) if who else None,
                target="bronze/consent",
                rows=1,
                details={
                    "message_id": row["message_id"],
                    "source": row["source"],
                    **{c: row[c] for c in CATEGORIES if row.get(c) is not None},
                },
            )
        )
    return record(settings, entries)
