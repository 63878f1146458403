"""Pure parts of the live stream: filters, frames, minute aggregates."""

from __future__ import annotations

import pytest

from lake.live.filters import FilterError, LiveFilter
from lake.live.frames import MinuteCounts, count_rows, row_to_frame

ROW = {
    "message_id": "m1",
    "type": "track",
    "event": "Workout Completed",
    "name": None,
    "user_id": "u1",
    "anonymous_id": "a1",
    "timestamp": 1_700_000_000_123_456,
    "received_at": 1_700_000_000_500_000,
    "properties": '{"plan": "premium_monthly", "minutes": 30, "paid": true, "tags": ["a"]}',
    "source_id": "src",
}


def frame() -> dict:
    return row_to_frame(ROW, "c1")


def test_row_becomes_frame_with_iso_times_and_parsed_properties():
    f = frame()
    assert f["kind"] == "event"
    assert f["timestamp"] == "2023-11-14T22:13:20.123456Z"
    assert f["received_at"] == "2023-11-14T22:13:20.500000Z"
    assert f["properties"]["plan"] == "premium_monthly"
    assert f["collector_id"] == "c1" and f["sequence"] is None


def test_query_filter_matches_all_criteria_with_and_between_fields():
    q = [("event", "Workout Completed"), ("event", "X"), ("prop.plan", "premium_monthly")]
    assert LiveFilter.from_query(q).matches(frame())
    assert not LiveFilter.from_query([("event", "X")]).matches(frame())
    assert LiveFilter.from_query([("type", "track"), ("user_id", "u1")]).matches(frame())
    assert not LiveFilter.from_query([("user_id", "u2")]).matches(frame())


def test_property_equality_compares_json_scalar_text():
    assert LiveFilter.from_query([("prop.minutes", "30")]).matches(frame())
    assert LiveFilter.from_query([("prop.paid", "true")]).matches(frame())
    assert not LiveFilter.from_query([("prop.tags", '["a"]')]).matches(frame())
    assert not LiveFilter.from_query([("prop.missing", "null")]).matches(frame())
    assert LiveFilter.from_json({"prop": {"minutes": 30, "paid": True}}).matches(frame())


def test_bad_filters_are_rejected_with_a_message():
    with pytest.raises(FilterError, match="unknown query parameter"):
        LiveFilter.from_query([("evnt", "x")])
    with pytest.raises(FilterError, match="unknown filter"):
        LiveFilter.from_json({"events": ["x"]})
    with pytest.raises(FilterError, match=r"prop\.x"):
        LiveFilter.from_json({"prop": {"x": {"nested": 1}}})


def test_minute_counts_snapshot_includes_empty_minutes_and_totals():
    rows = [ROW, {**ROW, "event": None, "type": "identify"}, ROW]
    counts = count_rows(rows, now_us=0)
    agg = MinuteCounts(retention_minutes=10)
    agg.add(counts)
    minute = ROW["received_at"] // 60_000_000
    snap = agg.snapshot(minute + 1, 3)
    assert [b["total"] for b in snap["buckets"]] == [0, 3, 0]
    assert snap["totals"] == {"Workout Completed": 2, "identify": 1}
    agg.add([(minute + 20, "x", 1)])  # prunes buckets beyond retention
    assert agg.minute(minute) == {}


def test_source_filter_matches_the_frames_source_id():
    assert LiveFilter.from_query([("source_id", "src"), ("source_id", "other")]).matches(frame())
    assert not LiveFilter.from_query([("source_id", "other")]).matches(frame())
    assert LiveFilter.from_json({"source_id": "src"}).matches(frame())
    assert not LiveFilter.from_json({"source_id": ["x"]}).matches(frame())
    assert LiveFilter.from_query([("source_id", "src")]).describe()["source_id"] == ["src"]
