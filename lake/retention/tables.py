"""The lake's tables retention can act on: Pulse's registered bronze tables and every Delta table
found under the lake, each with its date partition column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from core.settings import Settings
from lake.tables import BRONZE_TABLES


@dataclass(frozen=True)
class TableInfo:
    name: str  # <layer>/<table>
    path: Path
    schema: pa.Schema | None  # None: not created yet and not registered
    date_column: str | None  # the date partition column


def _registered_tables(settings: Settings) -> dict[str, TableInfo]:
    return {
        f"bronze/{name}": TableInfo(
            f"bronze/{name}",
            settings.table_path("bronze", name),
            schema,
            partition_by[0] if partition_by else None,
        )
        for name, (schema, partition_by) in BRONZE_TABLES.items()
    }


def _date_partition(schema: pa.Schema, partition_columns: Sequence[str]) -> str | None:
    for column in partition_columns:
        if column in schema.names and pa.types.is_date(schema.field(column).type):
            return column
    return None


def on_disk(settings: Settings, name: str) -> TableInfo | None:
    from deltalake import DeltaTable

    layer, table = name.split("/", 1)
    path = settings.table_path(layer, table)
    if not DeltaTable.is_deltatable(str(path)):
        return None
    delta = DeltaTable(str(path))
    schema = pa.schema(delta.schema().to_arrow())
    return TableInfo(
        name, path, schema, _date_partition(schema, delta.metadata().partition_columns)
    )


def known_tables(settings: Settings) -> dict[str, TableInfo]:
    """Pulse's registered bronze tables plus every Delta table found under the lake."""
    tables = _registered_tables(settings)
    if settings.lake_dir.is_dir():
        for log_dir in sorted(settings.lake_dir.glob("*/*/_delta_log")):
            name = f"{log_dir.parent.parent.name}/{log_dir.parent.name}"
            info = on_disk(settings, name)
            if info is not None:
                tables[name] = info
    return tables
