"""``retention_report``: enforce the lake's retention policies and report what was removed.

Daily (schedule ``retention_daily``, after the bronze maintenance) this asset loads the policy file
(``PULSE_RETENTION_POLICY_FILE``, default ``lake/retention.yaml``), archives and deletes every
expired partition, vacuums, and appends the run to ``system/retention_runs`` and each archive /
delete to the privacy audit log (see :mod:`lake.retention`). The materialization's metadata is the
report: rows archived and deleted and bytes freed, per table and per partition.

Run config: ``dry_run`` (report what would happen, change nothing), ``now`` (the clock, e.g.
``2026-05-01``: enforce as of that day), ``policy_file`` (another policy file). A bad policy file
fails the run with the validation message; a partition that could not be removed fails it after
every other partition was handled (the report still lists what was done).
"""

import datetime as dt
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from orchestration.assets.bronze import BRONZE_KEYS
from orchestration.resources import PulseResource


class RetentionConfig(dg.Config):
    dry_run: bool = False
    now: str | None = None  # YYYY-MM-DD or an ISO timestamp (UTC); default: the real clock
    policy_file: str | None = None  # default: the settings' policy file
    max_conflict_retries: int = 8


def _clock(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise dg.Failure(
            description=f"retention config `now` {value!r} is not a date: use YYYY-MM-DD"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _markdown(actions: list) -> str:
    if not actions:
        return "nothing expired"
    lines = [
        "| policy | table | partition | filter | archived | deleted | bytes freed | status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in actions:
        lines.append(
            f"| {a.policy} | {a.table} | {a.partition} | {a.filter or ''} | {a.rows_archived} "
            f"| {a.rows_deleted} | {a.bytes_freed} | {a.status} |"
        )
    return "\n".join(lines)


@dg.asset(
    name="retention_report",
    group_name="privacy",
    kinds={"delta", "parquet"},
    deps=[BRONZE_KEYS["events"], BRONZE_KEYS["quarantine"]],
    description=(
        "Enforce the retention policies: archive (zstd Parquet) and delete expired partitions, "
        "vacuum; rows archived/deleted and bytes freed per table and partition."
    ),
)
def retention_report(
    context: AssetExecutionContext, config: RetentionConfig, pulse: PulseResource
) -> dg.MaterializeResult:
    from lake.retention.enforce import enforce
    from lake.retention.policy import RetentionPolicyError, load_policies
    from lake.retention.report import runs_path

    settings = pulse.settings()
    path = Path(config.policy_file) if config.policy_file else None
    try:
        policies = load_policies(settings, path)
    except RetentionPolicyError as exc:
        raise dg.Failure(description=str(exc)) from None
    report = enforce(
        settings,
        policies,
        policy_path=path,
        now=_clock(config.now),
        dry_run=config.dry_run,
        run_id=context.run_id,
        actor=f"dagster:{context.run_id}",
        max_conflict_retries=config.max_conflict_retries,
    )
    for action in report.actions:
        context.log.info(
            f"{action.status} {action.table} {action.partition} ({action.policy}): "
            f"archived={action.rows_archived} deleted={action.rows_deleted} "
            f"bytes_freed={action.bytes_freed}"
        )
    per_table: dict[str, dict[str, int]] = {}
    for a in report.actions:
        totals = per_table.setdefault(
            a.table, {"partitions": 0, "rows_archived": 0, "rows_deleted": 0, "bytes_freed": 0}
        )
        totals["partitions"] += 1
        totals["rows_archived"] += a.rows_archived
        totals["rows_deleted"] += a.rows_deleted
        totals["bytes_freed"] += a.bytes_freed
    metadata = {
        "mode": "dry_run" if report.dry_run else "enforce",
        "as_of": report.now.isoformat(),
        "policy_file": report.policy_file,
        "rows_archived": report.rows_archived,
        "rows_deleted": report.rows_deleted,
        "bytes_freed": report.bytes_freed,
        "partitions": len(report.actions),
        "failed": len(report.failed),
        "per_table": dg.MetadataValue.json(per_table),
        "tables": dg.MetadataValue.json(report.tables),
        "actions": dg.MetadataValue.json([a.__dict__ for a in report.actions]),
        "report": dg.MetadataValue.md(_markdown(report.actions)),
        "history_table": dg.MetadataValue.path(str(runs_path(settings))),
    }
    if report.failed:
        raise dg.Failure(
            description=(
                f"retention could not remove {len(report.failed)} partition(s): "
                + "; ".join(f"{a.table} {a.partition}: {a.error}" for a in report.failed)
            ),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


RETENTION_ASSETS = [retention_report]
