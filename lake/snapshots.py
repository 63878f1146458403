"""Reference snapshots of the app's own database (users, programs, trainers, plans) as bronze
Delta tables.

The app exports these tables (pseudonymized: no email, name or phone) and Pulse lands each export
as a full overwrite of ``bronze/app_<table>``: a new Delta version per export, so earlier exports
stay readable by time travel until retention vacuums them. dbt's staging reads the latest version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake

from core.settings import Settings

# snapshot name -> its key column (must be present, non-null and unique in every export)
SNAPSHOT_KEYS = {
    "users": "user_id",
    "programs": "program_id",
    "trainers": "trainer_id",
    "plans": "plan_id",
}

# columns an export must never carry: the app pseudonymizes before exporting
FORBIDDEN_COLUMNS = frozenset({"email", "phone", "name_full", "first_name", "last_name", "address"})


class SnapshotError(ValueError):
    """An export cannot be landed; the message says which file and what is wrong."""


@dataclass(frozen=True)
class SnapshotReport:
    table: str
    rows: int
    version: int


def snapshot_table_path(settings: Settings, name: str) -> Path:
    return settings.table_path("bronze", f"app_{name}")


def validate_snapshot(name: str, table: pa.Table, source: Path) -> None:
    key = SNAPSHOT_KEYS[name]
    if key not in table.column_names:
        raise SnapshotError(f"{source}: snapshot {name!r} has no key column {key!r}")
    keys = table.column(key)
    if keys.null_count:
        raise SnapshotError(f"{source}: {keys.null_count} row(s) of {name!r} have a null {key}")
    if len(pc.unique(keys)) != table.num_rows:
        raise SnapshotError(f"{source}: {key} is not unique in snapshot {name!r}")
    leaked = FORBIDDEN_COLUMNS & set(table.column_names)
    if leaked:
        raise SnapshotError(
            f"{source}: snapshot {name!r} carries PII columns {sorted(leaked)}; "
            "export it pseudonymized"
        )


def load_snapshots(
    snapshot_dir: Path, settings: Settings, exported_at: datetime | None = None
) -> list[SnapshotReport]:
    """Land every ``<name>.parquet`` of ``snapshot_dir`` (users, programs, trainers, plans) as a
    new version of ``bronze/app_<name>``, stamped with ``_exported_at``. All files are validated
    before any is written, so a bad export changes nothing."""
    stamp = pa.scalar(exported_at or datetime.now(UTC), pa.timestamp("us", tz="UTC"))
    tables: dict[str, pa.Table] = {}
    for name in SNAPSHOT_KEYS:
        source = snapshot_dir / f"{name}.parquet"
        if not source.exists():
            raise SnapshotError(f"{source} is missing: an export needs {sorted(SNAPSHOT_KEYS)}")
        table = pq.read_table(source)
        validate_snapshot(name, table, source)
        tables[name] = table.append_column(
            "_exported_at", pa.array([stamp.as_py()] * table.num_rows, stamp.type)
        )

    reports = []
    for name, table in tables.items():
        path = snapshot_table_path(settings, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_deltalake(str(path), table, mode="overwrite", schema_mode="overwrite")
        reports.append(SnapshotReport(name, table.num_rows, DeltaTable(str(path)).version()))
    return reports
