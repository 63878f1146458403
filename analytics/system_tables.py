"""Read-only access to the platform's own Delta tables, for the System and Data quality pages.

The gold publication holds the business marts (read through :class:`analytics.QueryLayer`). The
platform's own records are Delta tables beside it, written by Dagster assets, checks and sensors:

==================  ===========================  =============================================
name                path (under the lake)        written by
==================  ===========================  =============================================
quality_scores      system/quality_scores        asset ``quality/quality_scores``
quality_results     system/quality_results       the ``gx_*`` checks (one row per expectation)
event_anomalies     system/event_anomalies       asset ``quality/event_anomalies``
platform_metrics    system/platform_metrics      asset ``system/platform_health``
service_probes      system/service_probes        sensor ``platform_telemetry`` (every minute)
host_telemetry      system/host_telemetry        sensor ``platform_telemetry``
query_log           system/query_log             every query-layer call (:mod:`analytics.querylog`)
quarantine          bronze/quarantine            the collector (rejected messages)
==================  ===========================  =============================================

:class:`SystemTables` reads them with DuckDB over each table's Arrow dataset (delta-rs: no DuckDB
extension, filters and projections pushed down to the files), with every identifier quoted by
:mod:`lake.sql` and every value bound as a literal. Results are cached under (table, Delta
version, query): a page rerun costs a version check, and a new commit (a new quality run, the
next minute's probe) is read at once. The version check itself is reused for a few seconds.
A table that does not exist yet (a fresh lake, a daemon that never ran) reads as an empty frame
with the table's columns, so a page shows an empty state instead of failing.

Nothing here writes. Layering: imports the settings, ``lake`` and third-party libraries only.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from analytics.cache import ResultCache
from analytics.filters import FilterError, quote_literal, select_sql
from analytics.querylog import QUERY_LOG_SCHEMA
from core.settings import Settings
from lake import gold
from lake.sql import quote_ident

TABLES: dict[str, tuple[str, str]] = {
    "quality_scores": ("system", "quality_scores"),
    "quality_results": ("system", "quality_results"),
    "event_anomalies": ("system", "event_anomalies"),
    "platform_metrics": ("system", "platform_metrics"),
    "service_probes": ("system", "service_probes"),
    "host_telemetry": ("system", "host_telemetry"),
    "query_log": ("system", "query_log"),
    "quarantine": ("bronze", "quarantine"),
}

_UTC = pl.Datetime("us", "UTC")
# The columns of each table as its writer defines them (tests/analytics/test_system_tables.py
# checks these against the writers): the shape of an empty read before the table exists.
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "quality_scores": {
        "date": pl.Date(),
        "table": pl.String(),
        "rows": pl.Int64(),
        "completeness": pl.Float64(),
        "validity": pl.Float64(),
        "uniqueness": pl.Float64(),
        "timeliness": pl.Float64(),
        "consistency": pl.Float64(),
        "score": pl.Float64(),
        "target": pl.Float64(),
        "meets_target": pl.Boolean(),
        "computed_at": _UTC,
    },
    "quality_results": {
        "run_id": pl.String(),
        "suite": pl.String(),
        "asset": pl.String(),
        "expectation": pl.String(),
        "expectation_group": pl.String(),
        "success": pl.Boolean(),
        "observed_value": pl.String(),
        "severity": pl.String(),
        "evaluated_at": _UTC,
    },
    "event_anomalies": {
        "kind": pl.String(),
        "series": pl.String(),
        "property": pl.String(),
        "window_start": _UTC,
        "window_end": _UTC,
        "observed": pl.Float64(),
        "expected": pl.Float64(),
        "p_value": pl.Float64(),
        "detected_at": _UTC,
    },
    "platform_metrics": {
        "date": pl.Date(),
        "category": pl.String(),
        "name": pl.String(),
        "dimension": pl.String(),
        "value": pl.Float64(),
        "unit": pl.String(),
        "target": pl.Float64(),
    },
    "service_probes": {
        "probed_at": _UTC,
        "service": pl.String(),
        "url": pl.String(),
        "ok": pl.Boolean(),
        "status_code": pl.Int32(),
        "latency_ms": pl.Float64(),
        "error": pl.String(),
        "flush_lag_seconds": pl.Float64(),
        "wal_pending_events": pl.Float64(),
    },
    "host_telemetry": {
        "sampled_at": _UTC,
        "host": pl.String(),
        "cpu_percent": pl.Float64(),
        "load_1m": pl.Float64(),
        "memory_used_bytes": pl.Int64(),
        "memory_percent": pl.Float64(),
        "disk_used_bytes": pl.Int64(),
        "disk_free_bytes": pl.Int64(),
        "disk_percent": pl.Float64(),
    },
    "query_log": dict(pl.from_arrow(QUERY_LOG_SCHEMA.empty_table()).schema),  # type: ignore[union-attr]
    "quarantine": {
        "message_id": pl.String(),
        "reason": pl.String(),
        "payload": pl.String(),
        "source_id": pl.String(),
        "collector_id": pl.String(),
        "received_at": _UTC,
        "received_date": pl.Date(),
    },
}

QUARANTINE_DAILY = {"received_date": pl.Date(), "reason": pl.String(), "messages": pl.Int64()}
QUARANTINE_REASONS = {
    "reason": pl.String(),
    "messages": pl.Int64(),
    "first_received": _UTC,
    "last_received": _UTC,
    "example": pl.String(),
}
MART_FRESHNESS = {
    "mart": pl.String(),
    "rows": pl.Int64(),
    "time_column": pl.String(),
    "latest": pl.Date(),
}


class SystemTableError(ValueError):
    """A name the table does not have (or an unknown table): says which names exist."""


@dataclass(frozen=True)
class _Loaded:
    table: Any  # deltalake.DeltaTable, or None when the table does not exist yet
    version: int | None
    checked: float  # clock time of the check


class SystemTables:
    """Cached, read-only reads of the platform tables of one data dir. Thread-safe: one per
    process is enough (Streamlit ``st.cache_resource``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache_entries: int = 256,
        version_ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.cache = ResultCache(cache_entries)
        self.version_ttl_seconds = version_ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded: dict[str, _Loaded] = {}

    # ---- tables ------------------------------------------------------------------------------
    def path(self, table: str) -> Path:
        if table not in TABLES:
            raise SystemTableError(f"no platform table {table!r}: known are {', '.join(TABLES)}")
        return self.settings.table_path(*TABLES[table])

    def _load(self, table: str) -> _Loaded:
        from deltalake import DeltaTable

        path = self.path(table)
        now = self._clock()
        with self._lock:
            loaded = self._loaded.get(table)
        if loaded is not None and now - loaded.checked < self.version_ttl_seconds:
            return loaded
        if loaded is not None and loaded.table is not None:
            loaded.table.update_incremental()
            fresh = _Loaded(loaded.table, loaded.table.version(), now)
        elif DeltaTable.is_deltatable(str(path)):
            delta = DeltaTable(str(path))
            fresh = _Loaded(delta, delta.version(), now)
        else:
            fresh = _Loaded(None, None, now)
        with self._lock:
            self._loaded[table] = fresh
        return fresh

    def version(self, table: str) -> int | None:
        """The table's current Delta version (None: it does not exist yet)."""
        return self._load(table).version

    def exists(self, table: str) -> bool:
        return self.version(table) is not None

    def empty(self, table: str) -> pl.DataFrame:
        return pl.DataFrame(schema=SCHEMAS[table])

    def query(
        self, table: str, sql: str, empty: Mapping[str, pl.DataType] | None = None
    ) -> pl.DataFrame:
        """Run ``sql`` (which reads the table under the name ``t``) against the table's current
        version, cached. ``sql`` is built by this module from checked names: never pass text
        from a user. ``empty`` is the result's schema when the table does not exist."""
        loaded = self._load(table)
        if loaded.table is None:
            return pl.DataFrame(schema=dict(empty or SCHEMAS[table]))
        key = (table, str(self.path(table)), loaded.version, sql)
        frame = self.cache.get(key)
        if frame is not None:
            return frame
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            # Only the registered dataset is readable: no files, no ATTACH, no INSTALL.
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            con.register("t", _dataset(loaded.table))
            frame = con.sql(sql).pl()
        finally:
            con.close()
        self.cache.put(key, frame, rows=frame.height)
        return frame

    def select(
        self,
        table: str,
        *,
        columns: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        between: tuple[str, Any, Any] | None = None,
        order_by: Sequence[str] | str = (),
        descending: bool = False,
        limit: int | None = None,
    ) -> pl.DataFrame:
        """Rows of ``table``: ``columns`` where each ``where`` column is one of the given values
        and ``between = (column, first, last)`` (inclusive; None leaves a side open), ordered
        and limited. Names are checked against the table's columns."""
        self.path(table)  # an unknown table fails here, naming the known ones
        schema = SCHEMAS[table]
        try:
            sql, wanted = select_sql(
                "t",
                list(schema),
                label=table,
                columns=columns,
                where=where,
                between=between,
                order_by=order_by,
                descending=descending,
                limit=limit,
                literal=_literal,
            )
        except FilterError as exc:
            raise SystemTableError(str(exc)) from None
        return self.query(table, sql, empty={c: schema[c] for c in wanted})

    # ---- data quality ------------------------------------------------------------------------
    def quality_scores(
        self, start: dt.date | None = None, end: dt.date | None = None
    ) -> pl.DataFrame:
        """Scores per table and day (``date`` within ``start .. end``), oldest first."""
        return self.select(
            "quality_scores", between=("date", start, end), order_by=["date", "table"]
        )

    def latest_scores(self) -> pl.DataFrame:
        """Each table's newest scored day, worst score first."""
        sql = (
            "SELECT * FROM t QUALIFY row_number() OVER "
            '(PARTITION BY "table" ORDER BY "date" DESC, computed_at DESC) = 1 '
            'ORDER BY score ASC NULLS FIRST, "table"'
        )
        return self.query("quality_scores", sql)

    def latest_results(self) -> pl.DataFrame:
        """Every expectation of each suite's latest run (the run that evaluated it last):
        failures first, errors before warnings, then by suite and expectation."""
        sql = (
            "SELECT * FROM t QUALIFY run_id = arg_max(run_id, evaluated_at) OVER "
            "(PARTITION BY suite) "
            "ORDER BY success ASC, CASE severity WHEN 'error' THEN 0 WHEN 'warn' THEN 1 "
            "ELSE 2 END, suite, expectation"
        )
        return self.query("quality_results", sql)

    def quarantine_daily(
        self, start: dt.date | None = None, end: dt.date | None = None
    ) -> pl.DataFrame:
        """Quarantined messages per received day and reason (partition-pruned on the day)."""
        where = _between("received_date", start, end)
        sql = (
            "SELECT received_date, reason, count(*)::BIGINT AS messages FROM t"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " GROUP BY ALL ORDER BY received_date, messages DESC, reason"
        )
        return self.query("quarantine", sql, empty=QUARANTINE_DAILY)

    def quarantine_reasons(
        self, start: dt.date | None = None, end: dt.date | None = None
    ) -> pl.DataFrame:
        """Per reason: messages, first and last receipt, and the newest error message (the
        collector's own wording, from the PII-masked payload)."""
        where = _between("received_date", start, end)
        sql = (
            "SELECT reason, count(*)::BIGINT AS messages, min(received_at) AS first_received, "
            "max(received_at) AS last_received, "
            "arg_max(left(json_extract_string(payload, '$.error'), 200), received_at) AS example "
            "FROM t"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " GROUP BY reason ORDER BY messages DESC, reason"
        )
        return self.query("quarantine", sql, empty=QUARANTINE_REASONS)

    def anomalies(self, start: dt.date | None = None, end: dt.date | None = None) -> pl.DataFrame:
        """Flagged windows whose start falls on ``start .. end`` (UTC days), newest first."""
        where = []
        if start is not None:
            where.append(f"window_start >= {_ts(start)}")
        if end is not None:
            where.append(f"window_start < {_ts(end + dt.timedelta(days=1))}")
        sql = (
            "SELECT * FROM t"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY window_start DESC, kind, series"
        )
        return self.query("event_anomalies", sql)

    # ---- platform ----------------------------------------------------------------------------
    def platform_metrics(
        self,
        categories: Sequence[str] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> pl.DataFrame:
        """Rows of the system mart (``category``, ``name``, ``dimension`` per day)."""
        return self.select(
            "platform_metrics",
            where={"category": list(categories)} if categories else None,
            between=("date", start, end),
            order_by=["date", "category", "name", "dimension"],
        )

    def probes(self, since: dt.datetime | None = None) -> pl.DataFrame:
        """Service health probes since ``since`` (UTC), oldest first."""
        return self.select(
            "service_probes", between=("probed_at", since, None), order_by="probed_at"
        )

    def host_samples(self, since: dt.datetime | None = None) -> pl.DataFrame:
        """Host samples (CPU, load, memory, disk) since ``since`` (UTC), oldest first."""
        return self.select(
            "host_telemetry", between=("sampled_at", since, None), order_by="sampled_at"
        )

    def query_log(self, since: dt.date | None = None) -> pl.DataFrame:
        """The query layer's log from ``since`` (a UTC date: partition-pruned), oldest first;
        the same rows as :func:`analytics.read_query_log`, cached by version."""
        return self.select("query_log", between=("log_date", since, None), order_by="logged_at")

    def mart_freshness(self) -> tuple[gold.Publication, pl.DataFrame] | None:
        """The current publication and, per mart, its rows, its time column and latest date
        (None when nothing is published). Read from the Parquet footers' statistics: no mart
        data is read. The time column is the mart's first date column, else its newest
        timestamp column (``last_*`` preferred); marts without either have no latest date."""
        try:
            publication = gold.current(self.settings)
        except gold.MartNotPublished:
            return None
        key = ("mart_freshness", publication.id)
        frame = self.cache.get(key)
        if frame is None:
            rows = [
                {"mart": name, "rows": publication.models[name], **_latest(publication, name)}
                for name in sorted(publication.models)
            ]
            frame = pl.DataFrame(rows, schema=MART_FRESHNESS)
            self.cache.put(key, frame, rows=frame.height)
        return publication, frame


def _dataset(delta: Any) -> Any:
    return delta.to_pyarrow_dataset()


def _literal(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return _ts(value)
    return quote_literal(value)


def _ts(value: dt.date | dt.datetime) -> str:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), dt.UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return f"TIMESTAMPTZ '{value.astimezone(dt.UTC).isoformat()}'"


def _between(column: str, first: Any, last: Any) -> list[str]:
    out = []
    if first is not None:
        out.append(f"{quote_ident(column)} >= {_literal(first)}")
    if last is not None:
        out.append(f"{quote_ident(column)} <= {_literal(last)}")
    return out


def _latest(publication: gold.Publication, mart: str) -> dict[str, Any]:
    """The time column of a mart and its maximum, from the Parquet statistics."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(publication.path / f"{mart}.parquet")
    schema = parquet.schema_arrow
    dates = [f.name for f in schema if pa.types.is_date(f.type)]
    stamps = [f.name for f in schema if pa.types.is_timestamp(f.type)]
    stamps.sort(key=lambda n: not n.startswith("last_"))
    column = dates[0] if dates else (stamps[0] if stamps else None)
    if column is None:
        return {"time_column": None, "latest": None}
    index = schema.get_field_index(column)
    latest = None
    meta = parquet.metadata
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max:
            latest = pc.max(parquet.read(columns=[column]).column(0)).as_py()
            break  # no statistics: the column was read
        value = stats.max
        latest = value if latest is None or value > latest else latest
    if isinstance(latest, dt.datetime):
        latest = latest.astimezone(dt.UTC).date() if latest.tzinfo else latest.date()
    return {"time_column": column, "latest": latest}
