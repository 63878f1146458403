"""``bronze_maintenance``: keep the bronze Delta tables' file counts bounded.

The collector commits every few seconds, so each event-date partition collects many small files.
Daily (schedule ``bronze_maintenance_daily``) this asset, per bronze table:

1. rewrites every partition that has more than one data file: Z-ordered on the common filter
   columns (``event``, ``user_id`` for ``events``) or compacted (other tables), one partition per
   commit so a conflict costs one partition's work;
2. vacuums files no longer referenced and older than ``vacuum_retention_hours`` (time travel and
   slow readers keep working within that window);
3. writes a checkpoint (readers replay fewer log files).

Writers keep appending meanwhile. An append racing a rewrite can conflict (delta-rs: "a concurrent
transaction deleted data this operation read"): the rewrite of that partition is retried after a
short back-off (the collector retries its own commits), up to ``max_conflict_retries`` times.
File counts before/after are the materialization's metadata.
"""

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from lake.tables import BRONZE_TABLES
from orchestration.resources import PulseResource

# Columns dashboards and dbt filter on, per table (within the date partitions).
ZORDER_COLUMNS: dict[str, list[str]] = {"events": ["event", "user_id"]}


class MaintenanceConfig(dg.Config):
    vacuum_retention_hours: int = 168  # Delta's default: 7 days of time travel
    target_file_mb: int = 128
    max_conflict_retries: int = 5


@dataclass
class TableReport:
    table: str
    files_before: int = 0
    files_after: int = 0
    partitions_rewritten: int = 0
    conflicts_retried: int = 0
    vacuumed_files: int = 0
    skipped: str | None = None
    partitions: dict[str, int] = field(default_factory=dict)  # files per partition before

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "partitions"}


def _files_per_partition(table: Any) -> Counter[tuple[tuple[str, Any], ...]]:
    import pyarrow as pa

    actions = pa.table(table.get_add_actions(flatten=True))
    part_cols = [c for c in actions.column_names if c.startswith("partition.")]
    counts: Counter[tuple[tuple[str, Any], ...]] = Counter()
    columns = {c: actions.column(c).to_pylist() for c in part_cols}
    for i in range(actions.num_rows):
        counts[tuple((c.removeprefix("partition."), columns[c][i]) for c in part_cols)] += 1
    return counts


def _with_retries(fn: Any, retries: int, report: TableReport) -> Any:
    from deltalake.exceptions import CommitFailedError, DeltaError

    for attempt in range(retries + 1):
        try:
            return fn()
        except (CommitFailedError, DeltaError) as exc:
            conflict = isinstance(exc, CommitFailedError) or "concurrent" in str(exc).lower()
            if not conflict or attempt == retries:
                raise
            report.conflicts_retried += 1
            time.sleep(min(0.2 * 2**attempt, 5.0))
    return None


def maintain_table(
    path: Path,
    name: str,
    *,
    zorder_columns: list[str] | None = None,
    vacuum_retention_hours: int = 168,
    target_file_mb: int = 128,
    max_conflict_retries: int = 5,
) -> TableReport:
    """Compact/Z-order every multi-file partition of the Delta table at ``path``, vacuum, checkpoint."""
    from deltalake import DeltaTable
    from deltalake.transaction import CommitProperties

    report = TableReport(table=name)
    if not DeltaTable.is_deltatable(str(path)):
        report.skipped = "not a Delta table yet"
        return report
    table = DeltaTable(str(path))
    counts = _files_per_partition(table)
    report.files_before = sum(counts.values())
    report.partitions = {
        "/".join(f"{k}={v}" for k, v in p) or "(table)": n for p, n in counts.items()
    }
    commit = CommitProperties(max_commit_retries=20)
    target = target_file_mb * 1024 * 1024
    for partition, files in sorted(counts.items(), key=lambda kv: str(kv[0])):
        if files <= 1:
            continue
        filters = [(k, "=", _typed(v)) for k, v in partition] or None

        def rewrite(filters: Any = filters) -> Any:
            fresh = DeltaTable(str(path))  # re-read: a retry must see the latest version
            if zorder_columns:
                return fresh.optimize.z_order(
                    zorder_columns,
                    partition_filters=filters,
                    target_size=target,
                    commit_properties=commit,
                )
            return fresh.optimize.compact(
                partition_filters=filters, target_size=target, commit_properties=commit
            )

        _with_retries(rewrite, max_conflict_retries, report)
        report.partitions_rewritten += 1
    table = DeltaTable(str(path))
    removed = _with_retries(
        lambda: table.vacuum(
            retention_hours=vacuum_retention_hours,
            dry_run=False,
            enforce_retention_duration=False,
        ),
        max_conflict_retries,
        report,
    )
    report.vacuumed_files = len(removed or [])
    table.create_checkpoint()
    report.files_after = len(DeltaTable(str(path)).file_uris())
    return report


def _typed(value: Any) -> Any:
    """Partition values come back as strings; delta-rs wants typed filter values for dates."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


@dg.asset(
    name="bronze_maintenance",
    group_name="ingest",
    kinds={"delta"},
    description=(
        "Delta maintenance of the bronze tables: Z-order (events: event, user_id) or compact every "
        "partition with more than one file, vacuum beyond the retention, checkpoint."
    ),
)
def bronze_maintenance(
    context: AssetExecutionContext, config: MaintenanceConfig, pulse: PulseResource
) -> dg.MaterializeResult:
    settings = pulse.settings()
    reports = []
    for name in BRONZE_TABLES:
        report = maintain_table(
            settings.table_path("bronze", name),
            name,
            zorder_columns=ZORDER_COLUMNS.get(name),
            vacuum_retention_hours=config.vacuum_retention_hours,
            target_file_mb=config.target_file_mb,
            max_conflict_retries=config.max_conflict_retries,
        )
        context.log.info(f"bronze/{name}: {report.as_dict()}")
        reports.append(report)
    return dg.MaterializeResult(
        metadata={
            "files_before": sum(r.files_before for r in reports),
            "files_after": sum(r.files_after for r in reports),
            "partitions_rewritten": sum(r.partitions_rewritten for r in reports),
            "conflicts_retried": sum(r.conflicts_retried for r in reports),
            "tables": dg.MetadataValue.json({r.table: r.as_dict() for r in reports}),
        }
    )


MAINTENANCE_ASSETS = [bronze_maintenance]
