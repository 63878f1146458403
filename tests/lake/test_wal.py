from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from lake.wal import WriteAheadLog


def rows(n: int, start: int = 0):
    return [("event", {"i": start + i, "text": "x" * 50}) for i in range(n)]


def test_append_returns_last_offset_and_reads_back(tmp_path: Path):
    with WriteAheadLog(tmp_path) as wal:
        assert wal.append(rows(3)) == 2
        assert wal.append([("quarantine", {"i": 3})]) == 3
        assert wal.next_offset == 4
        got = list(wal.read_from(0))
        assert [o for o, _, _ in got] == [0, 1, 2, 3]
        assert got[3][1] == "quarantine" and got[3][2] == {"i": 3}
        assert [o for o, _, _ in wal.read_from(2)] == [2, 3]
        assert [o for o, _, _ in wal.read_from(1, limit=2)] == [1, 2]
    # offsets survive a reopen
    with WriteAheadLog(tmp_path) as wal:
        assert wal.append(rows(1)) == 4
        assert [r["i"] for _, _, r in wal.read_from(0)] == [0, 1, 2, 3, 0]


def test_acked_records_are_on_disk(tmp_path: Path):
    wal = WriteAheadLog(tmp_path)
    wal.append(rows(5))
    # do not close: a crash right after the ack must still find the records
    reopened = WriteAheadLog(tmp_path)
    assert len(list(reopened.read_from(0))) == 5
    reopened.close()
    wal.close()


def test_concurrent_appenders_share_fsyncs_and_get_unique_offsets(tmp_path: Path, monkeypatch):
    fsyncs = 0
    real_fsync = os.fsync

    def counting_fsync(fd):
        nonlocal fsyncs
        fsyncs += 1
        real_fsync(fd)

    wal = WriteAheadLog(tmp_path)
    monkeypatch.setattr(os, "fsync", counting_fsync)
    offsets: list[int] = []
    lock = threading.Lock()

    def worker(k: int):
        for j in range(25):
            off = wal.append([("event", {"k": k, "j": j})])
            with lock:
                offsets.append(off)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wal.close()
    assert sorted(offsets) == list(range(200))
    assert fsyncs < 200  # group commit: fewer fsyncs than appends


def test_torn_and_corrupt_tail_is_truncated_on_open(tmp_path: Path):
    with WriteAheadLog(tmp_path) as wal:
        wal.append(rows(3))
    seg = sorted(tmp_path.glob("*.wal"))[-1]
    good_size = seg.stat().st_size
    with seg.open("ab") as f:
        f.write(b"\x40\x00\x00\x00\x01\x02\x03\x04partial")  # torn: length says 64, 7 bytes follow
    with WriteAheadLog(tmp_path) as wal:
        assert wal.repaired_bytes > 0 and seg.stat().st_size == good_size
        assert wal.append(rows(1, start=3)) == 3
        assert [r["i"] for _, _, r in wal.read_from(0)] == [0, 1, 2, 3]
    # flip a byte inside the last record: CRC mismatch → that record is dropped
    data = bytearray(seg.read_bytes())
    data[-3] ^= 0xFF
    seg.write_bytes(bytes(data))
    with WriteAheadLog(tmp_path) as wal:
        assert [r["i"] for _, _, r in wal.read_from(0)] == [0, 1, 2]
        assert wal.next_offset == 3


def test_segments_roll_and_truncate_before_deletes_flushed_ones(tmp_path: Path):
    with WriteAheadLog(tmp_path, segment_bytes=500) as wal:
        for i in range(20):
            wal.append(rows(1, start=i))
        segments = sorted(tmp_path.glob("*.wal"))
        assert len(segments) > 3
        assert [r["i"] for _, _, r in wal.read_from(0)] == list(range(20))
        deleted = wal.truncate_before(12)
        assert deleted >= 1
        assert wal.first_offset <= 12
        remaining = [o for o, _, _ in wal.read_from(0)]
        assert remaining[0] == wal.first_offset and remaining[-1] == 19
        wal.truncate_before(10**9)  # the active segment is always kept
        assert len(list(tmp_path.glob("*.wal"))) == 1
    with WriteAheadLog(tmp_path, segment_bytes=500) as wal:
        assert wal.append(rows(1)) == 20


def test_min_next_offset_when_wal_is_empty(tmp_path: Path):
    with WriteAheadLog(tmp_path / "w", min_next_offset=1000) as wal:
        assert wal.append(rows(1)) == 1000
        assert [o for o, _, _ in wal.read_from(0)] == [1000]


def test_append_after_close_fails(tmp_path: Path):
    wal = WriteAheadLog(tmp_path)
    wal.close()
    with pytest.raises(RuntimeError):
        wal.append(rows(1))


def test_reads_from_memory_match_reads_from_disk_for_any_offset_and_limit(tmp_path):
    wal = WriteAheadLog(tmp_path / "w", segment_bytes=300)
    for b in range(6):
        wal.append([("event", {"i": b * 3 + j}) for j in range(3)])
    wal.truncate_before(4)  # drops whole appends below offset 4 from memory too
    memory = {(o, n): list(wal.read_from(o, limit=n)) for o in range(4, 19) for n in (1, 2, 5, 99)}
    wal.close()
    reopened = WriteAheadLog(tmp_path / "w", segment_bytes=300)  # nothing in memory: disk reads
    for (o, n), got in memory.items():
        assert got == list(reopened.read_from(o, limit=n)), (o, n)
        assert [r["i"] for _, _, r in got] == list(range(o, min(18, o + n)))
    reopened.close()
