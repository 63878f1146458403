"""A retention run: :func:`enforce` applies the policies at an injectable ``now``, table by table
(whole-partition policies first, then row-filtered ones), and records the run's history."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.settings import Settings
from lake.retention.archive import ArchiveStore
from lake.retention.delete import (
    RunContext,
    checkpoint_table,
    enforce_files,
    enforce_partition,
    enforce_warehouse_copy,
    vacuum,
)
from lake.retention.planning import as_utc, cutoff_date, matching_days, partitions_by_date
from lake.retention.policy import (
    RetentionPolicy,
    load_policies,
    policy_file,
    tables_of,
    validate_against_lake,
)
from lake.retention.report import RetentionAction, RetentionReport, write_run_history
from lake.retention.tables import known_tables, on_disk

log = logging.getLogger(__name__)


def enforce(
    settings: Settings,
    policies: Sequence[RetentionPolicy] | None = None,
    *,
    policy_path: Path | None = None,
    now: dt.datetime | dt.date | None = None,
    dry_run: bool = False,
    run_id: str | None = None,
    actor: str | None = None,
    max_conflict_retries: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> RetentionReport:
    """Apply the retention policies at ``now`` (default: the real clock); returns what was done.

    ``policies`` default to those of ``policy_path`` (default: the settings' policy file).

    Failures of one partition are reported (status ``failed``) and do not stop the others; the
    caller decides whether a report with failures fails the run.
    """
    from lake.audit import default_actor

    source = str(policy_path or policy_file(settings))
    if policies is not None and policy_path is None:
        source = "(policies given by the caller)"
    if policies is None:
        policies = load_policies(settings, policy_path)
    else:
        validate_against_lake(policies, settings)
    clock = as_utc(now)
    report = RetentionReport(
        run_id=run_id or uuid.uuid4().hex[:12],
        started_at=dt.datetime.now(dt.UTC),
        now=clock,
        dry_run=dry_run,
        policy_file=source,
    )
    ctx = RunContext(
        settings=settings,
        report=report,
        store=ArchiveStore(settings.archive_location),
        actor=actor or default_actor(),
        max_conflict_retries=max_conflict_retries,
        sleep=sleep,
    )
    tables = known_tables(settings)
    # Per table: whole-partition policies first (they archive everything of an expired day), then
    # row-filtered ones, which then only see rows of days still kept by the former.
    targets: dict[str, list[RetentionPolicy]] = {}
    covered = {p.table for p in policies if p.table and not p.where and not p.table.endswith("*")}
    for policy in sorted(policies, key=lambda p: (p.where is not None, p.name)):
        if policy.files is not None:
            enforce_files(ctx, policy)
            continue
        for info in tables_of(policy, tables):
            if policy.table and policy.table.endswith("*") and info.name in covered:
                continue  # a table's own policy wins over its layer's
            targets.setdefault(info.name, []).append(policy)
    for name, rules in targets.items():
        summary: dict[str, Any] = report.tables.setdefault(name, {"policies": []})
        deleted_any = False
        for policy in rules:
            summary["policies"].append(policy.name)
            if policy.keep_days is None:
                summary.setdefault("kept_forever_by", policy.name)
                continue
            fresh = on_disk(settings, name)
            if fresh is None:
                summary["skipped"] = "not a Delta table yet"
                continue
            if fresh.date_column is None:
                summary["skipped"] = "no date partition column"
                continue
            cutoff = cutoff_date(clock, policy.keep_days)
            summary.setdefault("cutoffs", {})[policy.name] = cutoff.isoformat()
            from deltalake import DeltaTable

            delta = DeltaTable(str(fresh.path))
            if policy.where:
                planned: dict[dt.date, int | None] = dict(
                    matching_days(delta, fresh.date_column, cutoff, policy.where)
                )
            else:
                planned = dict.fromkeys(partitions_by_date(delta, fresh.date_column))
            for day in sorted(d for d in planned if d < cutoff):
                if policy.where and (name, day) in ctx.whole_days:
                    continue
                try:
                    action = enforce_partition(ctx, policy, fresh, delta, day, planned[day])
                except Exception as exc:
                    log.exception("retention of %s %s failed", name, day)
                    action = RetentionAction(
                        policy=policy.name,
                        table=name,
                        partition=f"{fresh.date_column}={day.isoformat()}",
                        status="failed",
                        error=f"{type(exc).__name__}: {exc}",
                    )
                if action is not None:
                    report.actions.append(action)
                    if not policy.where and action.status != "failed":
                        ctx.whole_days.add((name, day))
                    deleted_any = deleted_any or action.status == "deleted"
            try:
                copied = enforce_warehouse_copy(ctx, policy, name, cutoff)
            except Exception as exc:
                log.exception("retention of the warehouse copy of %s failed", name)
                copied = RetentionAction(
                    policy=policy.name,
                    table=f"warehouse/{name}",
                    partition=f"<{cutoff.isoformat()}",
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}",
                )
            if copied is not None:
                report.actions.append(copied)
        if deleted_any:
            summary["vacuumed_files"] = vacuum(ctx, tables[name])
            checkpoint_table(tables[name])
    if not dry_run:
        write_run_history(settings, report, actor=ctx.actor)
    return report
