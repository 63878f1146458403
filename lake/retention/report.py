"""Reporting: what a run did (or would do) to each partition or file, and the run history in the
Delta table ``system/retention_runs``."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from core.settings import Settings


@dataclass
class RetentionAction:
    """What one policy did (or would do) to one partition of one table, or to one file."""

    policy: str
    table: str  # <layer>/<table>, or files:<folder>
    partition: str  # <column>=<date>, or the file's name
    filter: str | None = None  # the where: predicate, if any
    rows_archived: int = 0
    rows_deleted: int = 0
    bytes_freed: int = 0  # dry run: estimated from the partition's file sizes
    archive_path: str | None = None
    status: str = "deleted"  # deleted | would_delete | failed
    conflicts_retried: int = 0
    error: str | None = None


@dataclass
class RetentionReport:
    run_id: str
    started_at: dt.datetime
    now: dt.datetime
    dry_run: bool
    policy_file: str
    actions: list[RetentionAction] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # per table: vacuum, skips

    @property
    def rows_deleted(self) -> int:
        return sum(a.rows_deleted for a in self.actions)

    @property
    def rows_archived(self) -> int:
        return sum(a.rows_archived for a in self.actions)

    @property
    def bytes_freed(self) -> int:
        return sum(a.bytes_freed for a in self.actions)

    @property
    def failed(self) -> list[RetentionAction]:
        return [a for a in self.actions if a.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "policy_file": self.policy_file,
            "rows_archived": self.rows_archived,
            "rows_deleted": self.rows_deleted,
            "bytes_freed": self.bytes_freed,
            "actions": [asdict(a) for a in self.actions],
            "tables": self.tables,
        }


RUNS_TABLE = ("system", "retention_runs")


RUNS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("run_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("as_of", pa.timestamp("us", tz="UTC"), nullable=False),  # the clock used
        pa.field("actor", pa.string(), nullable=False),
        pa.field("policy", pa.string()),  # null: a run that found nothing expired
        pa.field("table_name", pa.string()),
        pa.field("partition", pa.string()),
        pa.field("filter", pa.string()),
        pa.field("rows_archived", pa.int64(), nullable=False),
        pa.field("rows_deleted", pa.int64(), nullable=False),
        pa.field("bytes_freed", pa.int64(), nullable=False),
        pa.field("archive_path", pa.string()),
        pa.field("status", pa.string(), nullable=False),  # deleted | failed | nothing_expired
        pa.field("conflicts_retried", pa.int64(), nullable=False),
        pa.field("error", pa.string()),
    ]
)


def runs_path(settings: Settings) -> Path:
    return settings.table_path(*RUNS_TABLE)


def write_run_history(settings: Settings, report: RetentionReport, actor: str | None = None) -> int:
    """Append the run's actions to ``system/retention_runs`` (one row per action, or one
    ``nothing_expired`` row), one commit."""

    from lake.audit import default_actor

    base = {
        "run_id": report.run_id,
        "run_at": report.started_at,
        "as_of": report.now,
        "actor": actor or default_actor(),
    }
    rows = [
        {
            **base,
            "policy": a.policy,
            "table_name": a.table,
            "partition": a.partition,
            "filter": a.filter,
            "rows_archived": a.rows_archived,
            "rows_deleted": a.rows_deleted,
            "bytes_freed": a.bytes_freed,
            "archive_path": a.archive_path,
            "status": a.status,
            "conflicts_retried": a.conflicts_retried,
            "error": a.error,
        }
        for a in report.actions
    ] or [
        {
            **base,
            "rows_archived": 0,
            "rows_deleted": 0,
            "bytes_freed": 0,
            "status": "nothing_expired",
            "conflicts_retried": 0,
        }
    ]
    from lake.writer import append_table

    return append_table(runs_path(settings), pa.Table.from_pylist(rows, schema=RUNS_SCHEMA))


def read_run_history(settings: Settings) -> pa.Table:
    from deltalake import DeltaTable

    path = runs_path(settings)
    if not DeltaTable.is_deltatable(str(path)):
        return RUNS_SCHEMA.empty_table()
    return DeltaTable(str(path)).to_pyarrow_table().sort_by([("run_at", "ascending")])
