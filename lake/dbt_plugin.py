"""dbt-duckdb plugin that lets dbt read large bronze Delta tables in place, partition-pruned.

dbt-duckdb's own `delta` plugin either copies a whole Delta table into the warehouse on every dbt
invocation (`materialization: table`: ~17 s for bronze/events at 10M events, even for a one-day
run) or registers it as a view on the cursors that exist after the source was loaded
(`materialization: view`): a cursor that another thread opened earlier cannot see it, so under
`threads: 2` models fail at random with `... _df does not exist`.

This plugin opens each configured Delta table once per dbt process (one snapshot for the whole
run) and makes it visible on *every* DuckDB cursor dbt creates, under the configured name, so
every thread sees it. A plain table (reader protocol 1: no deletion vectors, no column mapping;
local files) becomes a temp view over DuckDB's own ``read_parquet`` of the snapshot's files, with
the partition columns read from the hive-style paths: at 10M events a full scan takes ~5.5 s
instead of ~7.5-14 s through the Arrow dataset (the first step of every full build). Any other
table is registered as its Arrow dataset. Either way DuckDB pushes projections and filters down:
a filter on the partition column (`event_date >= date '...'`) reads only those partitions.

The registered names live in DuckDB's per-connection temp catalog, i.e. only inside the dbt
process, and nothing in the warehouse refers to them: the `lake.events` source renders as the
subquery `(select * from bronze_events)` (dbt-duckdb's `external_location`), so no other process
ever finds a view it cannot read.

Profile (dbt_project/profiles.yml)::

    plugins:
      - module: lake.dbt_plugin
        config:
          tables:
            bronze_events: "<lake>/bronze/events"
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from lake.delta_files import local_data_files
from lake.sql import quote_ident, quote_literal

# DuckDB types of the partition column types read_parquet must parse from hive-style paths.
_HIVE_TYPES = {
    pa.date32(): "date",
    pa.string(): "varchar",
    pa.large_string(): "varchar",
    pa.int64(): "bigint",
    pa.int32(): "integer",
}


def parquet_scan_sql(table: DeltaTable) -> str | None:
    """``read_parquet(...)`` over the current snapshot of ``table``, or None when DuckDB's reader
    would not read it exactly as Delta does (reader features such as deletion vectors or column
    mapping, remote files, partition types not mapped here) or there is no file to read."""
    if table.protocol().min_reader_version > 1:
        return None
    files = local_data_files(table)
    if not files:  # remote (read through the Arrow dataset) or empty
        return None
    paths = [str(f) for f in files]
    schema = pa.schema(table.schema().to_arrow())
    hive_types = {}
    for column in table.metadata().partition_columns:
        duck_type = _HIVE_TYPES.get(schema.field(column).type)
        if duck_type is None:
            return None
        hive_types[column] = duck_type
    types = ", ".join(f"{quote_literal(c)}: {t}" for c, t in hive_types.items())
    # union_by_name: files written before a column was added lack it (null, as Delta reads it).
    return (
        f"read_parquet([{', '.join(quote_literal(p) for p in paths)}], "
        f"hive_partitioning = {'true' if hive_types else 'false'}, union_by_name = true"
        + (f", hive_types = {{{types}}})" if hive_types else ")")
    )


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        tables = plugin_config.get("tables")
        if not isinstance(tables, dict) or not tables:
            raise ValueError(
                "lake.dbt_plugin needs `config: {tables: {<name>: <delta table path>}}` in "
                "profiles.yml (dbt_project/profiles.yml)"
            )
        self._paths = {str(name): str(path) for name, path in tables.items()}
        # name -> "column type, ...": a table that may not exist yet (e.g. bronze/dashboard_accounts
        # before anyone signs in) reads as empty with these columns instead of failing.
        empty = plugin_config.get("empty_when_missing") or {}
        if not isinstance(empty, dict) or not set(empty) <= set(self._paths):
            raise ValueError(
                "lake.dbt_plugin: `empty_when_missing` maps names of `tables` to their columns "
                '("name type, ..."), e.g. {bronze_dashboard_accounts: "account_id varchar"}'
            )
        self._empty_columns = {str(k): str(v) for k, v in empty.items()}
        self._datasets: dict[str, Any] | None = None
        self._missing: dict[str, str] = {}
        self._lock = threading.Lock()

    def _open(self) -> dict[str, Any]:
        # Opened on the first cursor, not at import: `dbt parse` / `dbt ls` open no cursor and
        # need no lake.
        with self._lock:
            if self._datasets is None:
                datasets = {}
                for name, path in self._paths.items():
                    try:
                        table = DeltaTable(path)
                    except TableNotFoundError:
                        self._missing[name] = path
                        continue
                    datasets[name] = parquet_scan_sql(table) or table.to_pyarrow_dataset()
                self._datasets = datasets
            return self._datasets

    def configure_cursor(self, cursor) -> None:
        for name, dataset in self._open().items():
            if isinstance(dataset, str):
                cursor.execute(
                    f"create or replace temp view {quote_ident(name)} as select * from {dataset}"
                )
            else:
                cursor.register(name, dataset)
        for name, path in self._missing.items():
            columns = self._empty_columns.get(name)
            if columns is not None:
                cursor.execute(
                    f"create or replace temp view {quote_ident(name)} as select * from "
                    f"(select {_null_columns(columns)}) where false"
                )
                continue
            # Fail when (and only when) a model reads it, with a message that says what to do.
            message = f"bronze Delta table {path} does not exist: land events first"
            cursor.execute(
                f"create or replace temp view {quote_ident(name)} as "
                f"select error({quote_literal(message)}) as missing"
            )


def _null_columns(columns: str) -> str:
    """``"a varchar, b timestamptz"`` -> ``cast(null as varchar) as "a", ...``."""
    out = []
    for part in columns.split(","):
        match = re.fullmatch(r"\s*(\w+)\s+([A-Za-z][\w ]*)\s*", part)
        if match is None:
            raise ValueError(f"lake.dbt_plugin: bad column {part.strip()!r} in empty_when_missing")
        name, duck_type = match.groups()
        out.append(f"cast(null as {duck_type.strip()}) as {quote_ident(name)}")
    return ", ".join(out)
