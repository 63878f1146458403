"""The query log: one row per query-layer call, in the platform table ``system/query_log``.

Every :meth:`analytics.QueryLayer.metrics` call is recorded with its duration (compile and
execute parts), rows, whether the cache answered it, the page and role that asked, the
publication it read and whether live (bronze) data was part of the answer. Rows are buffered in
memory and appended to the Delta table by a background thread every few seconds (one commit per
batch, :func:`lake.writer.append_table`, partitioned by ``log_date``): a dashboard never waits on a
Delta commit. :func:`summarize` gives what the System page shows: p50/p95 by page and by query,
the slowest queries and the cache hit rate.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

TABLE = ("system", "query_log")
MAX_BUFFERED = 10_000  # rows kept when the lake cannot be written (oldest dropped beyond)
UTC_TS = pa.timestamp("us", tz="UTC")

QUERY_LOG_SCHEMA = pa.schema(
    [
        pa.field("logged_at", UTC_TS, nullable=False),
        pa.field("log_date", pa.date32(), nullable=False),
        pa.field("query_id", pa.string(), nullable=False),  # hash of the query's shape
        pa.field("query", pa.string(), nullable=False),  # readable shape: metrics, grain, ...
        pa.field("metrics", pa.string(), nullable=False),
        pa.field("grain", pa.string()),
        pa.field("group_by", pa.string()),
        pa.field("filters", pa.string()),  # JSON of the normalized filters
        pa.field("start_date", pa.date32()),
        pa.field("end_date", pa.date32()),
        pa.field("page", pa.string()),
        pa.field("role", pa.string()),
        pa.field("publication_id", pa.string()),
        pa.field("source", pa.string(), nullable=False),  # published | published+live | none
        pa.field("cache_hit", pa.bool_(), nullable=False),  # every part answered by the cache
        pa.field("cached_parts", pa.int32(), nullable=False),
        pa.field("parts", pa.int32(), nullable=False),
        pa.field("rows", pa.int64(), nullable=False),
        pa.field("duration_ms", pa.float64(), nullable=False),
        pa.field("compile_ms", pa.float64(), nullable=False),
        pa.field("execute_ms", pa.float64(), nullable=False),
        pa.field("error", pa.string()),
        pa.field("process", pa.string(), nullable=False),
    ]
)

PROCESS = f"{socket.gethostname()}:{os.getpid()}"


class QueryLogger:
    """Buffers query-log rows and appends them to ``system/query_log`` in the background."""

    def __init__(self, settings: Settings, flush_seconds: float = 5.0, enabled: bool = True):
        self.path = settings.table_path(*TABLE)
        self.flush_seconds = flush_seconds
        self.enabled = enabled
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0

    def record(self, row: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        now = dt.datetime.now(dt.UTC)
        full = {"logged_at": now, "log_date": now.date(), "process": PROCESS, **row}
        with self._lock:
            self._rows.append(full)
            if len(self._rows) > MAX_BUFFERED:
                del self._rows[: len(self._rows) - MAX_BUFFERED]
            if self._thread is None and self.flush_seconds > 0:
                self._thread = threading.Thread(
                    target=self._run, name="pulse-query-log", daemon=True
                )
                self._thread.start()
                atexit.register(self.close)

    def pending(self) -> int:
        with self._lock:
            return len(self._rows)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the log must never take a reader down; retried next round
                log.warning("could not write the query log to %s", self.path, exc_info=True)

    def flush(self) -> int:
        """Append the buffered rows now (one Delta commit); returns how many were written."""
        from lake.writer import append_table

        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            table = pa.Table.from_pylist(rows, schema=QUERY_LOG_SCHEMA)
            try:
                append_table(self.path, table, partition_by=["log_date"])
            except BaseException:
                with self._lock:  # keep them for the next attempt
                    self._rows[:0] = rows
                raise
            self.written += len(rows)
            return len(rows)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.warning("could not write the query log to %s", self.path, exc_info=True)


def read_query_log(settings: Settings, since: dt.date | None = None) -> pl.DataFrame:
    """The query log (from ``since``, a UTC date), empty with the schema when none exists."""
    from deltalake import DeltaTable

    path = settings.table_path(*TABLE)
    if not DeltaTable.is_deltatable(str(path)):
        return pl.from_arrow(QUERY_LOG_SCHEMA.empty_table())  # type: ignore[return-value]
    frame = pl.read_delta(str(path))
    if since is not None:
        frame = frame.filter(pl.col("log_date") >= since)
    return frame


@dataclass(frozen=True)
class QueryLogSummary:
    by_page: pl.DataFrame  # page, queries, p50_ms, p95_ms, max_ms, cache_hit_rate, errors
    by_query: pl.DataFrame  # page, query, queries, p50_ms, p95_ms, max_ms, cache_hit_rate
    slowest: pl.DataFrame  # the slowest calls, newest first among equals
    queries: int
    cache_hit_rate: float | None
    error_rate: float | None


def _stats(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return (
        frame.group_by(keys)
        .agg(
            pl.len().alias("queries"),
            pl.col("duration_ms").quantile(0.5, "linear").alias("p50_ms"),
            pl.col("duration_ms").quantile(0.95, "linear").alias("p95_ms"),
            pl.col("duration_ms").max().alias("max_ms"),
            pl.col("cache_hit").mean().alias("cache_hit_rate"),
            pl.col("error").is_not_null().sum().alias("errors"),
        )
        .sort("p95_ms", descending=True)
    )


def summarize(frame: pl.DataFrame, slowest: int = 20) -> QueryLogSummary:
    """p50/p95 by page and by query, the slowest calls, the cache hit rate."""
    frame = frame.with_columns(pl.col("page").fill_null("(none)"))
    n = frame.height
    return QueryLogSummary(
        by_page=_stats(frame, ["page"]),
        by_query=_stats(frame, ["page", "query"]),
        slowest=frame.sort(["duration_ms", "logged_at"], descending=[True, True])
        .head(slowest)
        .select(
            "logged_at",
            "page",
            "role",
            "query",
            "duration_ms",
            "rows",
            "cache_hit",
            "source",
            "error",
        ),
        queries=n,
        cache_hit_rate=float(frame["cache_hit"].mean()) if n else None,  # type: ignore[arg-type]
        error_rate=float(frame["error"].is_not_null().mean()) if n else None,  # type: ignore[arg-type]
    )
