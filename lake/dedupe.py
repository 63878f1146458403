"""Cheap in-memory dedupe of recently seen messageIds, for the collector's hot path.

seen = RecentIds(capacity=1_000_000, ttl_seconds=86_400)
if not seen.add_if_new(message_id, now):   # now: seconds, e.g. time.time() or receivedAt
    ...drop the repeat (count it)...

This is a best-effort first line: a repeat is dropped when it arrives within ``ttl_seconds`` of the
first copy *and* the id is still among the ``capacity`` most recent ones on this replica. The
exact guarantee (one row per messageId within 24 h) belongs to staging, which dedupes across
replicas and restarts.

Memory is bounded: an ``OrderedDict`` in insertion order (oldest first); beyond ``capacity`` the
oldest id is evicted, and expired ids are swept from the front every few thousand inserts. About
120 bytes per id plus the id string itself (~190 MB for 1,000,000 UUIDs).

Not thread-safe: call it from one thread (the event loop). Each call is a few dict operations with
no ``await`` inside, so concurrent coroutines on one loop are safe.
"""

from __future__ import annotations

from collections import OrderedDict

_SWEEP_EVERY = 4096


class RecentIds:
    """A bounded, TTL'd set of recently seen ids."""

    __slots__ = ("_capacity", "_ids", "_since_sweep", "_ttl")

    def __init__(self, capacity: int = 1_000_000, ttl_seconds: float = 86_400.0) -> None:
        if capacity < 1:
            raise ValueError(f"RecentIds capacity must be >= 1, got {capacity}")
        if ttl_seconds <= 0:
            raise ValueError(f"RecentIds ttl_seconds must be > 0, got {ttl_seconds}")
        self._capacity = capacity
        self._ttl = float(ttl_seconds)
        self._ids: OrderedDict[str, float] = OrderedDict()
        self._since_sweep = 0

    def add_if_new(self, message_id: str, now: float) -> bool:
        """Record ``message_id`` at ``now``; False when it was already seen within the TTL."""
        ids = self._ids
        first_seen = ids.get(message_id)
        if first_seen is not None:
            if now - first_seen < self._ttl:
                return False
            ids.move_to_end(message_id)  # expired: a fresh first sighting
        ids[message_id] = now
        if len(ids) > self._capacity:
            ids.popitem(last=False)
        self._since_sweep += 1
        if self._since_sweep >= _SWEEP_EVERY:
            self._since_sweep = 0
            self.expire(now)
        return True

    def expire(self, now: float) -> int:
        """Drop ids first seen ``ttl_seconds`` or more before ``now``; returns how many."""
        ids, horizon, dropped = self._ids, now - self._ttl, 0
        while ids:
            oldest = next(iter(ids.values()))
            if oldest > horizon:
                break
            ids.popitem(last=False)
            dropped += 1
        return dropped

    def discard(self, message_id: str) -> None:
        """Forget ``message_id`` (e.g. its event was not stored, so a retry must not count as a
        repeat)."""
        self._ids.pop(message_id, None)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def clear(self) -> None:
        self._ids.clear()
