"""WAL → Delta with the app transaction: replays after a crash land exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from core.settings import Settings
from lake.collector.flusher import Flusher
from lake.ingest import bulk_load
from lake.pipeline import prepare
from lake.tables import EVENTS_SCHEMA, QUARANTINE_SCHEMA
from lake.validation import to_us
from lake.wal import WriteAheadLog
from lake.writer import DeltaSink, collector_app_id

KEY = b"k" * 16


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", collector_id="t1", flush_max_events=7)


def records(n: int, bad_every: int = 4, start: int = 0):
    msgs = []
    for i in range(start, start + n):
        if i % bad_every == 0:
            msgs.append({"type": "track", "userId": "u", "messageId": f"bad-{i}"})
        else:
            msgs.append({"type": "track", "event": "E", "userId": "u", "messageId": f"m-{i}"})
    return prepare(
        msgs, key=KEY, source_id="s", received_at_us=to_us(datetime(2024, 5, 1, tzinfo=UTC))
    ).records


def read(settings: Settings, table: str) -> pl.DataFrame:
    return pl.read_delta(str(settings.table_path("bronze", table)))


def test_flush_writes_exact_schema_and_sequence(settings):
    sink = DeltaSink(settings)
    wal = WriteAheadLog(settings.wal_dir / "t1")
    wal.append(records(20))
    flusher = Flusher(settings, sink, wal)
    assert flusher.flush_all() == 20
    events = read(settings, "events")
    quarantine = read(settings, "quarantine")
    assert events.height == 15 and quarantine.height == 5
    assert sorted(events["sequence"].to_list()) == [i for i in range(20) if i % 4]
    assert flusher.commits == 6  # 20 records in chunks of flush_max_events=7, two tables
    assert set(events["collector_id"]) == {"t1"}
    assert set(quarantine["reason"]) == {"missing_event"}
    from deltalake import DeltaTable

    for table, schema in (("events", EVENTS_SCHEMA), ("quarantine", QUARANTINE_SCHEMA)):
        dt = DeltaTable(str(settings.table_path("bronze", table)))
        assert dt.to_pyarrow_table().schema.equals(schema)
        assert dt.transaction_version(collector_app_id("t1", table)) == 19
    wal.close()


def test_crash_after_commit_before_truncate_does_not_duplicate(settings):
    sink = DeltaSink(settings)
    wal = WriteAheadLog(settings.wal_dir / "t1")
    wal.append(records(30))
    Flusher(settings, sink, wal).flush_all()
    wal.close()
    # Simulate the crash: the WAL still holds every record (nothing truncated), more arrive.
    wal = WriteAheadLog(settings.wal_dir / "t1")
    wal.append(records(10, start=30))
    flusher = Flusher(settings, DeltaSink(settings), wal)
    assert flusher.position == 0  # replays the whole WAL...
    flusher.flush_all()
    events = read(settings, "events")
    quarantine = read(settings, "quarantine")
    # ...but lands each record once
    assert events["message_id"].n_unique() == events.height == 30
    assert quarantine.height == 10
    assert sorted(events["sequence"].to_list()) == [i for i in range(40) if i % 4]
    wal.close()


def test_lost_wal_does_not_reuse_committed_offsets(settings):
    sink = DeltaSink(settings)
    wal = WriteAheadLog(settings.wal_dir / "t1")
    wal.append(records(5))
    Flusher(settings, sink, wal).flush_all()
    wal.close()
    import shutil

    shutil.rmtree(settings.wal_dir)
    committed = Flusher.committed_offsets(settings, sink)
    wal = WriteAheadLog(
        settings.wal_dir / "t1", min_next_offset=max(v for v in committed.values() if v) + 1
    )
    assert wal.append(records(4, start=100)) == 8
    Flusher(settings, sink, wal).flush_all()
    assert read(settings, "events").height == 3 + 3
    wal.close()


def test_bulk_load_dedupes_masks_and_quarantines(settings):
    msgs = [
        {
            "type": "identify",
            "userId": "u1",
            "messageId": "a",
            "traits": {"email": "zed@example.com"},
            "timestamp": "2024-01-02T03:04:05Z",
        },
        {"type": "track", "userId": "u1", "event": "E", "messageId": "b"},
        {"type": "track", "userId": "u1", "event": "E", "messageId": "b"},
        {"type": "track", "userId": "u1", "messageId": "c", "properties": {"n": "zed@example.com"}},
    ]
    report = bulk_load(msgs, settings, "src", received_at=datetime(2024, 1, 2, 4, tzinfo=UTC))
    assert (report.accepted, report.quarantined, report.duplicates_dropped) == (2, 1, 1)
    events = read(settings, "events")
    assert events.filter(pl.col("message_id") == "a")["event_date"].to_list()[0].isoformat() == (
        "2024-01-02"
    )
    for path in settings.lake_dir.rglob("*"):
        if path.is_file():
            assert b"zed@example.com" not in path.read_bytes()
