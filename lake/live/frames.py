"""Bronze event rows → live frames, and per-minute aggregates (pure).

Rows are what the collector appends to the WAL (:mod:`lake.validation`): timestamps are epoch
microseconds, ``properties`` is JSON text. A frame is the JSON object a subscriber receives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

US_PER_MINUTE = 60_000_000
_EPOCH = datetime(1970, 1, 1)

FRAME_FIELDS = (
    "message_id",
    "type",
    "event",
    "name",
    "user_id",
    "anonymous_id",
    "timestamp",
    "received_at",
    "properties",
    "source_id",
    "collector_id",
    "sequence",
)


def iso_us(value: Any) -> str | None:
    """Epoch microseconds (or a datetime) as ISO-8601 UTC with a ``Z`` suffix."""
    if isinstance(value, int):
        return (_EPOCH + timedelta(microseconds=value)).isoformat(timespec="microseconds") + "Z"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds") + "Z"
    return value


def minute_iso(minute: int) -> str:
    """A minute index (epoch minutes) as ISO-8601 UTC."""
    return (_EPOCH + timedelta(minutes=minute)).isoformat(timespec="seconds") + "Z"


def _properties(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str | bytes) and raw:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def row_to_frame(row: Mapping[str, Any], collector_id: str) -> dict[str, Any]:
    """The event frame of one accepted row (``kind: "event"``)."""
    return {
        "kind": "event",
        "message_id": row.get("message_id"),
        "type": row.get("type"),
        "event": row.get("event"),
        "name": row.get("name"),
        "user_id": row.get("user_id"),
        "anonymous_id": row.get("anonymous_id"),
        "timestamp": iso_us(row.get("timestamp")),
        "received_at": iso_us(row.get("received_at")),
        "properties": _properties(row.get("properties")),
        "source_id": row.get("source_id"),
        "collector_id": row.get("collector_id") or collector_id,
        "sequence": row.get("sequence"),
    }


def aggregate_name(row: Mapping[str, Any]) -> str:
    """What a row is counted as: the track event name, else the message type (``identify``...)."""
    return row.get("event") or row.get("type") or "unknown"


def count_rows(rows: Sequence[Mapping[str, Any]], now_us: int) -> dict[tuple[int, str], int]:
    """Counts by (minute of received_at, aggregate name). Rows without received_at use now.

    Fast path: the collector stamps one received_at per request, so when the first and last rows
    share a minute the names are counted with :class:`collections.Counter` (C loop)."""
    if not rows:
        return {}

    def minute_of(row: Mapping[str, Any]) -> int:
        received = row.get("received_at")
        return (received if isinstance(received, int) else now_us) // US_PER_MINUTE

    first = minute_of(rows[0])
    if first == minute_of(rows[-1]):
        names = Counter(r.get("event") or r.get("type") or "unknown" for r in rows)
        return {(first, name): n for name, n in names.items()}
    counts: dict[tuple[int, str], int] = {}
    for row in rows:
        key = (minute_of(row), row.get("event") or row.get("type") or "unknown")
        counts[key] = counts.get(key, 0) + 1
    return counts


class MinuteCounts:
    """Rolling per-minute counts by event name, kept for ``retention_minutes``."""

    def __init__(self, retention_minutes: int = 1440) -> None:
        self.retention_minutes = retention_minutes
        self._buckets: dict[int, dict[str, int]] = {}

    def add(self, counts: Mapping[tuple[int, str], int] | Iterable[tuple[int, str, int]]) -> None:
        items = (
            ((m, n, c) for (m, n), c in counts.items()) if isinstance(counts, Mapping) else counts
        )
        buckets = self._buckets
        for minute, name, count in items:
            bucket = buckets.get(minute)
            if bucket is None:
                bucket = buckets[minute] = {}
                self._prune(minute)
            bucket[name] = bucket.get(name, 0) + count

    def _prune(self, newest: int) -> None:
        oldest = newest - self.retention_minutes
        for minute in [m for m in self._buckets if m <= oldest]:
            del self._buckets[minute]

    def minute(self, minute: int) -> dict[str, int]:
        return dict(self._buckets.get(minute, {}))

    def minute_frame(self, minute: int, *, final: bool) -> dict[str, Any]:
        counts = self.minute(minute)
        return {
            "kind": "aggregate",
            "minute": minute_iso(minute),
            "final": final,
            "counts": counts,
            "total": sum(counts.values()),
        }

    def snapshot(self, now_minute: int, minutes: int) -> dict[str, Any]:
        """The last ``minutes`` minute buckets (oldest first, empty minutes included) + totals."""
        minutes = max(1, min(minutes, self.retention_minutes))
        buckets = []
        totals: dict[str, int] = {}
        for minute in range(now_minute - minutes + 1, now_minute + 1):
            counts = self.minute(minute)
            for name, count in counts.items():
                totals[name] = totals.get(name, 0) + count
            buckets.append(
                {"minute": minute_iso(minute), "counts": counts, "total": sum(counts.values())}
            )
        return {
            "minutes": minutes,
            "from": minute_iso(now_minute - minutes + 1),
            "to": minute_iso(now_minute + 1),
            "buckets": buckets,
            "totals": dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))),
            "total": sum(totals.values()),
        }
