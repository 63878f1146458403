"""Delta writes of bronze rows: row dicts → Arrow, and an exactly-once append sink.

:func:`rows_to_table` builds an Arrow table with the exact bronze schema column by column (row
values are Arrow-ready: see :mod:`lake.validation`).

:class:`DeltaSink` appends to ``bronze/events`` and ``bronze/quarantine``. Each append may carry a
delta-rs *app transaction* ``(app_id, version)`` committed atomically with the data: the collector
uses ``app_id = pulse-collector-<collector_id>-<table>`` and ``version`` = the last WAL offset in
the commit, so after a crash it asks :meth:`DeltaSink.committed_offset` what already landed and
replays only what is after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from core.settings import Settings
from lake.tables import BRONZE_TABLES

log = logging.getLogger(__name__)

MAX_COMMIT_RETRIES = 100  # concurrent appends from several collector replicas (STACK_NOTES)


def rows_to_table(
    rows: Sequence[dict[str, Any]],
    schema: pa.Schema,
    columns: dict[str, Sequence[Any]] | None = None,
) -> pa.Table:
    """Arrow table with exactly ``schema`` from row dicts (missing keys are null).

    Timestamp columns arrive as epoch microseconds: built as int64 and cast (zero-copy), which
    is ~300x faster than letting pyarrow convert Python ints into a tz-aware timestamp array.
    ``columns`` gives whole columns by name instead of reading them from the rows.
    """
    arrays = []
    for name, field in zip(schema.names, schema, strict=True):
        given = columns.get(name) if columns else None
        values = list(given) if given is not None else [r.get(name) for r in rows]
        if pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values, type=pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def create_table(
    path: Path, schema: pa.Schema, partition_by: list[str], attempts: int = 20
) -> None:
    """Create a Delta table unless it exists; safe when several processes race to create it.

    Two creators both try to commit version 0: one wins, the other fails (the error type varies
    with timing), finds the table and goes on.
    """
    for attempt in range(attempts):
        if DeltaTable.is_deltatable(str(path)):
            return
        try:
            DeltaTable.create(str(path), schema=schema, partition_by=partition_by, mode="ignore")
            return
        except Exception as exc:  # lost the race (or the winner's log is not visible yet)
            if attempt == attempts - 1:
                raise
            log.info("creating %s raced another writer (%s); re-checking", path, exc)
            time.sleep(0.05 * (attempt + 1))


def append_table(path: Path, data: pa.Table, partition_by: list[str] | None = None) -> int:
    """Append ``data`` in one commit to the Delta table at ``path``, creating it with the data's
    schema on first use (for the small system tables: audit log, run histories, telemetry)."""
    path.mkdir(parents=True, exist_ok=True)
    create_table(path, data.schema, partition_by or [])
    write_deltalake(
        str(path),
        data,
        mode="append",
        partition_by=partition_by,
        commit_properties=CommitProperties(max_commit_retries=MAX_COMMIT_RETRIES),
    )
    return data.num_rows


def collector_app_id(collector_id: str, table: str) -> str:
    return f"pulse-collector-{collector_id}-{table}"


class DeltaSink:
    """Appends bronze rows to the lake's Delta tables, creating them with the exact schema."""

    def __init__(
        self, settings: Settings, tables: Sequence[str] = ("events", "quarantine", "consent")
    ) -> None:
        self.settings = settings
        self.paths: dict[str, Path] = {}
        # One open table each, brought up to date before each append by reading only the commits
        # since the last one: a path makes delta-rs load the table from scratch on every commit
        # (about half the commit's CPU for commits of a few thousand rows).
        self._open: dict[str, DeltaTable] = {}
        for table in tables:
            schema, partition_by = BRONZE_TABLES[table]
            path = settings.table_path("bronze", table)
            path.mkdir(parents=True, exist_ok=True)
            create_table(path, schema, partition_by)
            self.paths[table] = path

    def committed_offset(self, table: str, app_id: str) -> int | None:
        """The app-transaction version recorded for ``app_id`` in ``table`` (None if never)."""
        return DeltaTable(str(self.paths[table])).transaction_version(app_id)

    def append(
        self,
        table: str,
        rows: Sequence[dict[str, Any]] | pa.Table,
        *,
        app_id: str | None = None,
        version: int | None = None,
        columns: dict[str, Sequence[Any]] | None = None,
    ) -> int:
        """Append rows in one Delta commit (with the app transaction if given); returns row count."""
        schema, partition_by = BRONZE_TABLES[table]
        data = rows if isinstance(rows, pa.Table) else rows_to_table(rows, schema, columns)
        txns = [Transaction(app_id=app_id, version=version)] if app_id is not None else None
        target = self._open.get(table)
        if target is not None:
            try:
                target.update_incremental()  # reads only the commits since the last append
            except Exception:  # its history was rewritten (an erasure purges old versions)
                target = None
        if target is None:
            target = self._open[table] = DeltaTable(str(self.paths[table]))
        try:
            write_deltalake(
                target,
                data,
                mode="append",
                partition_by=partition_by,
                commit_properties=CommitProperties(
                    app_transactions=txns, max_commit_retries=MAX_COMMIT_RETRIES
                ),
            )
        except Exception:
            self._open.pop(table, None)  # start again from the table's current state next time
            raise
        return data.num_rows
