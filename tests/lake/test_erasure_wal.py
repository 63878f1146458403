"""Erasure and the collector's write-ahead log: an unflushed event of the user makes the erasure
refuse (nothing touched); once flushed, the retained WAL segment is blanked in place and the
collector's exactly-once bookkeeping still works (offsets and app transactions intact)."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from deltalake import DeltaTable

from lake.collector.flusher import Flusher
from lake.pipeline import prepare
from lake.privacy import key_bytes
from lake.validation import to_us
from lake.wal import WriteAheadLog
from lake.writer import DeltaSink, collector_app_id


def _records(settings, user: str, start: int, n: int):
    now = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    msgs = [
        {
            "type": "identify" if i == start else "track",
            "event": "App Opened",
            "userId": user,
            "traits": {"email": f"{user}@example.com"},
            "messageId": f"m-{user}-{i}",
            "timestamp": now.isoformat(),
        }
        for i in range(start, start + n)
    ]
    return prepare(
        msgs, key=key_bytes(settings.pii_hmac_key), source_id="app", received_at_us=to_us(now)
    ).records


def test_unflushed_user_events_block_erasure_then_flushed_ones_are_blanked(pulse_settings):
    from lake.privacy_ops import requests
    from lake.privacy_ops.erasure import erase_user
    from lake.privacy_ops.files import UnflushedEvents

    settings = pulse_settings
    sink = DeltaSink(settings)
    wal = WriteAheadLog(settings.wal_dir / settings.collector_id)
    flusher = Flusher(settings, sink, wal)
    wal.append(_records(settings, "usr_keep", 0, 3) + _records(settings, "usr_gone", 0, 3))
    flusher.flush_all()
    wal.append(_records(settings, "usr_gone", 3, 2))  # acked, not flushed yet
    events = DeltaTable(str(sink.paths["events"]))
    version_before = events.version()

    with pytest.raises(UnflushedEvents, match="not in Delta yet"):
        erase_user(settings, "usr_gone")
    assert DeltaTable(str(sink.paths["events"])).version() == version_before

    flusher.flush_all()
    result = erase_user(settings, "usr_gone")
    assert result.status == "completed", result.findings
    assert result.rows_removed["lake/bronze/events"] == 5
    assert result.rows_removed["wal"] == 5
    assert result.tokens == 1  # the email's pseudonym
    statuses = [r["status"] for r in requests.for_subject(settings, result_subject(settings))]
    assert statuses == ["failed", "completed"]

    segment_bytes = b"".join(p.read_bytes() for p in (settings.wal_dir).rglob("*.wal"))
    assert b"usr_gone" not in segment_bytes and b"usr_keep" in segment_bytes
    # The WAL still reads (CRCs valid), offsets unchanged; the collector's progress survived.
    kept = [(off, row) for off, _kind, row in wal.read_from(wal.first_offset)]
    assert [off for off, _ in kept] == list(range(wal.first_offset, wal.next_offset))
    app_id = collector_app_id(settings.collector_id, "events")
    assert DeltaTable(str(sink.paths["events"])).transaction_version(app_id) == wal.next_offset - 1
    wal.append(_records(settings, "usr_keep", 3, 1))
    assert flusher.flush_all() == 1
    rows = DeltaTable(str(sink.paths["events"])).to_pyarrow_table().to_pylist()
    assert sorted(r["user_id"] for r in rows) == ["usr_keep"] * 4
    assert orjson.loads(b'["event",{}]   ') == ["event", {}]
    wal.close()


def result_subject(settings) -> str:
    from lake.audit import subject_token

    return subject_token(settings, "usr_gone")
