"""The collector's recent-messageId dedupe: bounded, TTL'd, fast."""

from __future__ import annotations

import time
import uuid

import pytest

from lake.dedupe import RecentIds


def test_repeats_within_ttl_are_dropped_and_accepted_after() -> None:
    seen = RecentIds(capacity=100, ttl_seconds=60)
    assert seen.add_if_new("m1", 0.0)
    assert not seen.add_if_new("m1", 1.0)
    assert not seen.add_if_new("m1", 59.9)
    assert seen.add_if_new("m1", 60.0)  # expired: a fresh first sighting, clock restarts
    assert not seen.add_if_new("m1", 119.0)
    assert seen.add_if_new("m2", 119.0)
    assert len(seen) == 2


def test_capacity_evicts_the_oldest() -> None:
    seen = RecentIds(capacity=3, ttl_seconds=1000)
    for i, mid in enumerate(("a", "b", "c", "d")):
        assert seen.add_if_new(mid, float(i))
    assert len(seen) == 3 and "a" not in seen
    assert seen.add_if_new("a", 5.0)  # forgotten, so accepted again
    assert not seen.add_if_new("d", 5.0)
    assert "b" not in seen


def test_re_seen_expired_id_moves_to_the_young_end() -> None:
    seen = RecentIds(capacity=2, ttl_seconds=10)
    seen.add_if_new("old", 0.0)
    seen.add_if_new("x", 5.0)
    assert seen.add_if_new("old", 20.0)  # expired -> now the newest
    seen.add_if_new("y", 21.0)  # evicts x, not old
    assert "old" in seen and "x" not in seen


def test_expire_sweeps_ids_past_ttl() -> None:
    seen = RecentIds(capacity=10_000, ttl_seconds=10)
    for i in range(100):
        seen.add_if_new(f"m{i}", float(i))
    assert seen.expire(now=60.0) == 51  # first seen at 0..50
    assert len(seen) == 49
    # the periodic sweep keeps memory near the live set even below capacity
    for i in range(10_000):
        seen.add_if_new(f"n{i}", 1000.0 + i)
    assert len(seen) < 4_200


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentIds(capacity=0)
    with pytest.raises(ValueError, match="ttl"):
        RecentIds(ttl_seconds=0)


def test_speed_smoke() -> None:
    n = 200_000
    ids = [str(uuid.uuid4()) for _ in range(n)]
    seen = RecentIds(capacity=100_000, ttl_seconds=86_400)
    now = time.time()
    start = time.perf_counter()
    for mid in ids:
        seen.add_if_new(mid, now)
    new_ns = (time.perf_counter() - start) / n * 1e9
    start = time.perf_counter()
    for mid in ids[-100_000:]:
        seen.add_if_new(mid, now)
    repeat_ns = (time.perf_counter() - start) / 100_000 * 1e9
    print(
        f"RecentIds.add_if_new: new id {new_ns:.0f} ns/op (at capacity), repeat {repeat_ns:.0f} ns/op"
    )
    assert len(seen) == 100_000


def test_a_discarded_id_is_new_again():
    seen = RecentIds(capacity=10, ttl_seconds=60)
    assert seen.add_if_new("m1", now=0.0)
    seen.discard("m1")
    assert "m1" not in seen
    assert seen.add_if_new("m1", now=1.0), "a retry after a failed store must not be a repeat"
    seen.discard("never-seen")  # forgetting an unknown id is a no-op
    assert len(seen) == 1
