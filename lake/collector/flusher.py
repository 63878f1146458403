"""The flusher: WAL → Arrow → Delta, exactly once.

Each Delta commit carries the app transaction ``(pulse-collector-<id>-<table>, last WAL offset of
the chunk)``. On start the flusher reads both tables' versions and replays every WAL record after
them (records at or below a table's version already landed there and are skipped), so a crash
between a Delta commit and the WAL truncation never writes a row twice. ``sequence`` = WAL offset.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from core.settings import Settings
from lake.consent import CONSENT
from lake.pipeline import EVENT, QUARANTINE
from lake.wal import WriteAheadLog
from lake.writer import DeltaSink, collector_app_id

log = logging.getLogger(__name__)

_TABLE_OF_KIND = {EVENT: "events", QUARANTINE: "quarantine", CONSENT: "consent"}
_WITH_SEQUENCE = ("events", "consent")


class Flusher:
    def __init__(self, settings: Settings, sink: DeltaSink, wal: WriteAheadLog) -> None:
        self.settings = settings
        self.sink = sink
        self.wal = wal
        self.collector_id = settings.collector_id
        self.app_ids = {t: collector_app_id(self.collector_id, t) for t in _TABLE_OF_KIND.values()}
        self.committed: dict[str, int] = {
            t: v
            for t in self.app_ids
            if (v := sink.committed_offset(t, self.app_ids[t])) is not None
        }
        self.position = wal.first_offset  # next WAL offset to look at
        self.rows_flushed = 0
        self.commits = 0
        self.last_error: str | None = None
        self.last_flush_at: float | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one flush at a time
        self._thread: threading.Thread | None = None
        # (next offset after an fsync group, monotonic time it became durable): the age of the
        # oldest group not yet flushed is the flush lag. Replayed records count from start-up.
        self._durable_at: deque[tuple[int, float]] = deque()
        if wal.next_offset > self.position:
            self._durable_at.append((wal.next_offset, time.monotonic()))
        # on_commit(table, seconds, rows): metrics hook, called after each Delta commit.
        self.on_commit: Callable[[str, float, int], None] | None = None
        # on_rows(table, rows): called with the rows of each commit (the consent audit uses it).
        self.on_rows: Callable[[str, list[dict[str, Any]]], None] | None = None

    @staticmethod
    def committed_offsets(settings: Settings, sink: DeltaSink) -> dict[str, int | None]:
        return {
            t: sink.committed_offset(t, collector_app_id(settings.collector_id, t))
            for t in _TABLE_OF_KIND.values()
        }

    # ---- flushing ------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return max(0, self.wal.next_offset - self.position)

    @property
    def lag_seconds(self) -> float:
        """Age of the oldest durable record not yet in Delta (0 when everything is flushed)."""
        try:
            _, since = self._durable_at[0]
        except IndexError:
            return 0.0
        return max(0.0, time.monotonic() - since)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def flush_once(self, max_records: int | None = None) -> int:
        """Flush up to ``max_records`` WAL records; returns how many records were consumed."""
        limit = max_records or self.settings.flush_max_events
        with self._lock:
            rows: dict[str, list[dict[str, Any]]] = {t: [] for t in _TABLE_OF_KIND.values()}
            offsets: dict[str, list[int]] = {t: [] for t in _TABLE_OF_KIND.values()}
            last = None
            # Rows may be shared with the WAL's memory and the live hub: never modify them.
            for offset, kind, row in self.wal.read_from(self.position, limit=limit):
                last = offset
                table = _TABLE_OF_KIND[kind]
                done = self.committed.get(table)
                if done is not None and offset <= done:
                    continue  # already in Delta (committed before a crash)
                rows[table].append(row)
                offsets[table].append(offset)
            if last is None:
                return 0
            for table, table_rows in rows.items():
                if table_rows:
                    started = time.perf_counter()
                    columns: dict[str, list[Any]] = {
                        "collector_id": [self.collector_id] * len(table_rows)
                    }
                    if table in _WITH_SEQUENCE:
                        columns["sequence"] = offsets[table]
                    self.sink.append(
                        table,
                        table_rows,
                        app_id=self.app_ids[table],
                        version=last,
                        columns=columns,
                    )
                    if self.on_commit is not None:
                        self.on_commit(table, time.perf_counter() - started, len(table_rows))
                    if self.on_rows is not None:
                        try:
                            self.on_rows(table, table_rows)
                        except Exception:  # the rows are committed; a hook must not replay them
                            log.exception("post-commit hook failed for %s", table)
                    self.committed[table] = last
                    self.commits += 1
                    self.rows_flushed += len(table_rows)
            consumed = last + 1 - self.position
            self.position = last + 1
            durable_at = self._durable_at
            while durable_at and durable_at[0][0] <= self.position:
                durable_at.popleft()
            self.wal.truncate_before(self.position)
            self.last_flush_at = time.time()
            return consumed

    def flush_all(self) -> int:
        total = 0
        while n := self.flush_once():
            total += n
        return total

    # ---- background thread ---------------------------------------------------------------------
    def notify(self, next_offset: int) -> None:
        """Called after each WAL fsync: wake up early when a full commit is waiting."""
        self._durable_at.append((next_offset, time.monotonic()))
        if next_offset - self.position >= self.settings.flush_max_events:
            self._wake.set()

    def wake(self) -> None:
        """Flush now (e.g. at start-up, to replay what a previous run left in the WAL)."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="delta-flusher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # delta-rs imports pandas lazily on the first write (~1 s): do it before it counts.
        with contextlib.suppress(ImportError):
            import pandas  # noqa: F401
        backoff = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=backoff or self.settings.flush_interval_seconds)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.flush_all()
                self.last_error = None
                backoff = 0.0
            except Exception as exc:  # keep the WAL; retry later
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("flush to Delta failed; will retry (events are safe in the WAL)")
                backoff = min(max(backoff * 2, 0.5), 30.0)

    def stop(self, final_flush: bool = True) -> None:
        """Stop the thread and (by default) flush everything left in the WAL."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if final_flush:
            self.flush_all()
