"""The collector's write-ahead log: an acked event is never lost.

Layout: ``<wal_dir>/<collector_id>/<first offset, 20 digits>.wal`` segment files. A record is
``<u32 length><u32 crc32(payload)><payload>`` where the payload is orjson of ``[kind, row]``
(kind: ``"event"`` or ``"quarantine"``). Offsets are global record indexes (0, 1, 2, ...): a
segment's name is the offset of its first record, so offsets survive restarts and truncation.

* :meth:`WriteAheadLog.append` returns only after the records are written *and fsynced*. A
  dedicated writer thread does group commit: every append waiting while an fsync is in progress is
  written and synced by the next single fsync. :meth:`append_async` is the asyncio face of it.
* On open, the tail of the last segment is checked record by record (length + CRC); a torn or
  corrupt tail (a crash mid-write) is truncated away.
* Segments roll at ``segment_bytes``; :meth:`truncate_before` deletes segments whose records are
  all below an offset (the active segment is always kept, so the next offset is never forgotten).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import queue
import struct
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_SUFFIX = ".wal"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
MAX_RECORD_BYTES = 64 * 1024 * 1024

Record = tuple[str, dict[str, Any]]
_Work = tuple[list[bytes], Future[int], Sequence[Record]]
DEFAULT_RECENT_LIMIT = 500_000  # records kept in memory for the flusher


class WALClosedError(RuntimeError):
    pass


def _segment_name(base: int) -> str:
    return f"{base:020d}{_SUFFIX}"


def _scan(path: Path) -> tuple[int, int]:
    """(number of valid records, byte length of the valid prefix) of a segment file."""
    count = 0
    good = 0
    with path.open("rb") as f:
        data = f.read()
    size = len(data)
    pos = 0
    while pos + _HEADER.size <= size:
        length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if length > MAX_RECORD_BYTES or end > size:
            break
        if zlib.crc32(memoryview(data)[pos + _HEADER.size : end]) != crc:
            break
        count += 1
        pos = end
        good = end
    return count, good


def encode_record(kind: str, row: dict[str, Any]) -> bytes:
    payload = orjson.dumps((kind, row))
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


class WriteAheadLog:
    """Append-only, fsynced, segment-rolling log of ``(kind, row)`` records."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        min_next_offset: int = 0,
        on_durable: Callable[[int], None] | None = None,
    ) -> None:
        """Open (or create) the log in ``directory``, repairing a torn tail.

        ``min_next_offset``: the next offset is at least this (used when the Delta tables already
        hold offsets beyond an empty/lost WAL, so new records are never mistaken for flushed ones).
        ``on_durable(next_offset)`` is called by the writer thread after each fsync.
        """
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.on_durable = on_durable
        self._lock = threading.Lock()  # guards the segment list and offsets
        self._segments: list[int] = sorted(
            int(p.name.removesuffix(_SUFFIX)) for p in self.directory.glob(f"*{_SUFFIX}")
        )
        self.repaired_bytes = 0
        if self._segments:
            last = self._segments[-1]
            path = self._path(last)
            count, good = _scan(path)
            size = path.stat().st_size
            if good < size:
                log.warning("WAL %s: truncating %d bytes of torn/corrupt tail", path, size - good)
                self.repaired_bytes = size - good
                with path.open("r+b") as f:
                    f.truncate(good)
                    os.fsync(f.fileno())
            self._active_base = last
            self._active_count = count
            self._active_size = good
        else:
            self._active_base = min_next_offset
            self._active_count = 0
            self._active_size = 0
            self._segments = [self._active_base]
        if self._active_base + self._active_count < min_next_offset:
            self._segments.append(min_next_offset)
            self._active_base, self._active_count, self._active_size = min_next_offset, 0, 0
        self._file = self._path(self._active_base).open("ab")
        self._fsync_dir()
        self._durable = self._active_base + self._active_count  # next offset; all below are synced
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        # Recently appended records kept in memory for the flusher (first offset → records), so
        # it does not re-read and re-parse what it was just handed; bounded, disk is the truth.
        self._recent_firsts: list[int] = []  # ascending
        self._recent: list[Sequence[Record]] = []
        self._recent_records = 0
        self.recent_limit = DEFAULT_RECENT_LIMIT
        self._closed = False
        self._thread = threading.Thread(target=self._writer, name="wal-writer", daemon=True)
        self._thread.start()

    # ---- offsets -------------------------------------------------------------------------------
    @property
    def first_offset(self) -> int:
        with self._lock:
            return self._segments[0]

    @property
    def next_offset(self) -> int:
        """Offset the next record will get; every record below it is durable."""
        return self._durable

    def _path(self, base: int) -> Path:
        return self.directory / _segment_name(base)

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---- append --------------------------------------------------------------------------------
    def submit(self, records: Sequence[Record]) -> Future[int]:
        """Queue records; the future resolves to the last record's offset once fsynced."""
        if self._closed:
            raise WALClosedError("the write-ahead log is closed")
        fut: Future[int] = Future()
        self._queue.put(([encode_record(k, r) for k, r in records], fut, records))
        return fut

    def append(self, records: Sequence[Record]) -> int:
        """Write and fsync records; returns the offset of the last one (-1 if none)."""
        return self.submit(records).result()

    async def append_async(self, records: Sequence[Record]) -> int:
        return await asyncio.wrap_future(self.submit(records))

    def _writer(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            # Group commit: take everything queued while the previous fsync was running.
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(b is None for b in batch)
            work = [b for b in batch if b is not None]
            if work:
                self._write_batch(work)
            if stop:
                return

    def _write_batch(self, work: list[_Work]) -> None:
        results: list[tuple[Future[int], int]] = []
        firsts: list[int] = []
        try:
            with self._lock:
                for encoded, fut, _ in work:
                    firsts.append(self._active_base + self._active_count)
                    for rec in encoded:
                        if self._active_size >= self.segment_bytes and self._active_count:
                            self._roll()
                        self._file.write(rec)
                        self._active_size += len(rec)
                        self._active_count += 1
                    results.append((fut, self._active_base + self._active_count - 1))
                self._file.flush()
                os.fsync(self._file.fileno())
                for first, (encoded, _, records) in zip(firsts, work, strict=True):
                    if encoded and self._recent_records < self.recent_limit:
                        self._recent_firsts.append(first)
                        self._recent.append(records)
                        self._recent_records += len(records)
                self._durable = self._active_base + self._active_count
            durable = self._durable
        except BaseException as exc:  # a failed write/fsync must fail every waiting append
            log.exception("WAL write failed")
            for _, fut, _ in work:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for fut, last in results:
            fut.set_result(last)
        if self.on_durable is not None:
            try:
                self.on_durable(durable)
            except Exception:
                log.exception("WAL on_durable callback failed")

    def _roll(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._active_base += self._active_count
        self._active_count = 0
        self._active_size = 0
        self._segments.append(self._active_base)
        self._file = self._path(self._active_base).open("ab")
        self._fsync_dir()

    # ---- read ----------------------------------------------------------------------------------
    def read_from(
        self, offset: int, limit: int | None = None
    ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """Yield ``(offset, kind, row)`` for durable records at or after ``offset``.

        Served from memory while the records were appended by this process (the rows are shared:
        do not modify them); otherwise read from the segment files. ``limit`` is applied exactly.
        """
        end = self._durable
        if limit is not None:
            end = min(end, max(offset, self._segments[0]) + limit)
        with self._lock:
            i = bisect.bisect_right(self._recent_firsts, offset) - 1
            start = max(i, 0)
            chunks = list(zip(self._recent_firsts[start:], self._recent[start:], strict=True))
        served = False
        for first, records in chunks:
            if first > offset or first + len(records) <= offset or offset >= end:
                break  # a gap (not in memory) or done
            for j in range(offset - first, min(len(records), end - first)):
                kind, row = records[j]
                yield first + j, kind, row
            offset = min(first + len(records), end)
            served = True
        if served:
            return
        end = self._durable
        if limit is not None:
            end = min(end, max(offset, self._segments[0]) + limit)
        with self._lock:
            segments = list(self._segments)
        for i, base in enumerate(segments):
            seg_end = segments[i + 1] if i + 1 < len(segments) else end
            if seg_end <= offset or base >= end:
                continue
            try:
                f = self._path(base).open("rb")
            except FileNotFoundError:
                continue  # truncated concurrently: those records were flushed
            with f:
                current = base
                while current < end:
                    header = f.read(_HEADER.size)
                    if len(header) < _HEADER.size:
                        break
                    length, crc = _HEADER.unpack(header)
                    if current < offset:
                        f.seek(length, os.SEEK_CUR)
                        current += 1
                        continue
                    payload = f.read(length)
                    if len(payload) < length or zlib.crc32(payload) != crc:
                        raise OSError(f"WAL record {current} in {self._path(base)} is corrupt")
                    kind, row = orjson.loads(payload)
                    yield current, kind, row
                    current += 1

    # ---- truncate ------------------------------------------------------------------------------
    def truncate_before(self, offset: int) -> int:
        """Delete segments whose records are all below ``offset``; returns how many were deleted."""
        deleted = 0
        with self._lock:
            k = 0
            while k < len(self._recent) and self._recent_firsts[k] + len(self._recent[k]) <= offset:
                self._recent_records -= len(self._recent[k])
                k += 1
            if k:
                del self._recent_firsts[:k], self._recent[:k]
            while len(self._segments) > 1 and self._segments[1] <= offset:
                base = self._segments.pop(0)
                self._path(base).unlink(missing_ok=True)
                deleted += 1
        if deleted:
            self._fsync_dir()
        return deleted

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        with self._lock:
            self._file.close()

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
