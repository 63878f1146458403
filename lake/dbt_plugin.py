"""dbt-duckdb plugin that lets dbt read large bronze Delta tables in place, partition-pruned.

dbt-duckdb's own `delta` plugin either copies a whole Delta table into the warehouse on every dbt
invocation (`materialization: table`: ~17 s for bronze/events at 10M events, even for a one-day
run) or registers it as a view on the cursors that exist after the source was loaded
(`materialization: view`): a cursor that another thread opened earlier cannot see it, so under
`threads: 2` models fail at random with `... _df does not exist`.

This plugin opens each configured Delta table once per dbt process (one snapshot for the whole
run) and registers its Arrow dataset on *every* DuckDB cursor dbt creates, under the configured
name, so every thread sees it. DuckDB scans the dataset with projection and filter pushdown: a
filter on the partition column (`event_date >= date '...'`) reads only those partitions.

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

import threading
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        tables = plugin_config.get("tables")
        if not isinstance(tables, dict) or not tables:
            raise ValueError(
                "lake.dbt_plugin needs `config: {tables: {<name>: <delta table path>}}` in "
                "profiles.yml (dbt_project/profiles.yml)"
            )
        self._paths = {str(name): str(path) for name, path in tables.items()}
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
                        datasets[name] = DeltaTable(path).to_pyarrow_dataset()
                    except TableNotFoundError:
                        self._missing[name] = path
                self._datasets = datasets
            return self._datasets

    def configure_cursor(self, cursor) -> None:
        for name, dataset in self._open().items():
            cursor.register(name, dataset)
        for name, path in self._missing.items():
            # Fail when (and only when) a model reads it, with a message that says what to do.
            message = f"bronze Delta table {path} does not exist: land events first"
            message = message.replace("'", "''")
            cursor.execute(
                f"create or replace temp view {name} as select error('{message}') as missing"
            )
