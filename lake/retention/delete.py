"""Deleting: archive-then-delete of one expired partition against one Delta snapshot (retried on a
conflicting append), the warehouse copy of a bronze table, old files of a folder, and the vacuum
and checkpoint after a run's deletes; each deletion is recorded in the privacy audit log."""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from core.settings import Settings
from lake.retention.archive import ArchiveStore, plain_schema
from lake.retention.planning import (
    count_matching,
    delete_predicate,
    partitions_by_date,
    query,
    where_predicate,
)
from lake.retention.policy import RetentionPolicy, RetentionPolicyError, files_folder
from lake.retention.report import RetentionAction, RetentionReport
from lake.retention.tables import TableInfo
from lake.sql import column_list, qualified, quote_ident, quote_literal

log = logging.getLogger(__name__)


def _is_conflict(exc: Exception) -> bool:
    from deltalake.exceptions import CommitFailedError

    text = str(exc).lower()
    return isinstance(exc, CommitFailedError) or "concurrent" in text or "conflict" in text


@dataclass
class RunContext:
    settings: Settings
    report: RetentionReport
    store: ArchiveStore | None
    actor: str
    max_conflict_retries: int
    sleep: Callable[[float], None]
    # (table, day) a whole-partition policy removes in this run: row-filtered policies skip them
    # (in a dry run those rows are still there and would be counted twice).
    whole_days: set[tuple[str, dt.date]] = field(default_factory=set)
    # warehouse copy -> the latest cutoff of a whole-day policy applied to it in this run
    warehouse_cutoffs: dict[str, dt.date] = field(default_factory=dict)


def enforce_partition(
    ctx: RunContext,
    policy: RetentionPolicy,
    info: TableInfo,
    snapshot: Any,
    day: dt.date,
    matched: int | None,
) -> RetentionAction | None:
    """Archive (if asked) then delete one expired partition's rows; None if nothing matched.

    ``snapshot`` is the table's DeltaTable, brought up to date before each attempt; ``matched``
    the planned count of rows of a filtered policy (None: the whole day)."""
    from deltalake import CommitProperties

    from lake.audit import AuditEntry, record

    assert info.date_column is not None
    column = info.date_column
    action = RetentionAction(
        policy=policy.name,
        table=info.name,
        partition=f"{column}={day.isoformat()}",
        filter=where_predicate(policy.where),
    )
    predicate = delete_predicate(column, day, policy.where)
    for attempt in range(ctx.max_conflict_retries + 1):
        snapshot.update_incremental()  # latest version; the delete commits against it
        partition = partitions_by_date(snapshot, column).get(day)
        if partition is None:
            return None
        files = partition.files
        if ctx.report.dry_run:
            count = partition.rows if matched is None else matched
            if not count:
                return None
            action.rows_deleted = count
            action.rows_archived = count if policy.archive else 0
            action.bytes_freed = int(sum(files.values()) * count / max(partition.rows, count, 1))
            action.status = "would_delete"
            if policy.archive and ctx.store is not None:
                directory = ctx.store.partition_dir(info.name, column, day)
                action.archive_path = f"{directory}/part-{ctx.report.run_id}-{policy.name}.parquet"
            return action
        if attempt and policy.where and not count_matching(snapshot, predicate):
            return None  # a retry found the rows gone (another run removed them)
        archived: str | None = None
        archived_at: dt.datetime | None = None
        try:
            if policy.archive and ctx.store is not None:
                # The archive holds exactly what the delete below removes: same snapshot, same
                # predicate, every column in the table's order and types.
                schema = plain_schema(pa.schema(snapshot.schema().to_arrow()))
                columns = column_list(schema.names)
                directory = ctx.store.partition_dir(info.name, column, day)
                name = f"part-{ctx.report.run_id}-{policy.name}.parquet"
                archived, rows = ctx.store.write(
                    directory,
                    name,
                    query(snapshot, f"select {columns} from t where {predicate}"),
                    schema,
                )
                action.rows_archived = rows
                archived_at = dt.datetime.now(dt.UTC)
            metrics = snapshot.delete(
                predicate, commit_properties=CommitProperties(max_commit_retries=20)
            )
        except Exception as exc:
            if archived is not None and ctx.store is not None:
                ctx.store.remove(archived)  # its rows are still in the table: no double archive
            action.rows_archived = 0
            if _is_conflict(exc) and attempt < ctx.max_conflict_retries:
                action.conflicts_retried += 1
                log.info("retention %s %s: conflict, retrying (%s)", info.name, day, exc)
                ctx.sleep(min(0.2 * 2**attempt, 5.0))
                continue
            raise
        deleted_at = dt.datetime.now(dt.UTC)
        deleted = int(metrics.get("num_deleted_rows", 0))
        if not deleted and not action.rows_archived:
            if archived is not None and ctx.store is not None:
                ctx.store.remove(archived)
            return None  # the planned rows were already gone
        if archived is not None and deleted != action.rows_archived:
            # Cannot happen against one snapshot; if it does, say so rather than lose rows.
            raise RuntimeError(
                f"{info.name} {action.partition}: archived {action.rows_archived} rows but the "
                f"delete removed {deleted}; the archive {archived} is kept, check it"
            )
        action.rows_deleted = deleted
        action.archive_path = archived
        # The table object is now at the delete's version: the partition's files before and
        # after differ by exactly what the delete removed and rewrote.
        after = partitions_by_date(snapshot, column).get(day)
        kept = after.files if after else {}
        removed = sum(size for path, size in files.items() if path not in kept)
        added = sum(size for path, size in kept.items() if path not in files)
        action.bytes_freed = max(removed - added, 0)
        details = {
            "policy": policy.name,
            "run_id": ctx.report.run_id,
            "as_of": ctx.report.now.isoformat(),
            "filter": action.filter,
            "bytes_freed": action.bytes_freed,
        }
        target = f"{info.name}/{action.partition}"
        entries = []
        if archived is not None:
            entries.append(
                AuditEntry(
                    "retention_archive",
                    actor=ctx.actor,
                    target=target,
                    rows=action.rows_archived,
                    details={**details, "archive_path": archived},
                    at=archived_at,
                )
            )
        entries.append(
            AuditEntry(
                "retention_delete",
                actor=ctx.actor,
                target=target,
                rows=deleted,
                details=details,
                at=deleted_at,
            )
        )
        record(ctx.settings, entries)
        return action
    return None  # unreachable: the last attempt returns or raises


# Warehouse tables that keep a copy of a bronze table's rows (dbt's incremental staging holds the
# raw payloads), with the date column and the names there of the bronze columns a policy's `where`
# may filter on. A policy on the bronze table applies to its copy too: otherwise raw events would
# outlive their retention in the warehouse.
WAREHOUSE_COPIES: dict[str, tuple[str, str, dict[str, str]]] = {
    "bronze/events": (
        "stg_events",
        "event_date",
        {"event": "event_name", "type": "event_type", "source_id": "source_id"},
    ),
}


def enforce_warehouse_copy(
    ctx: RunContext, policy: RetentionPolicy, table_name: str, cutoff: dt.date
) -> RetentionAction | None:
    """Delete the warehouse copy's rows dated before ``cutoff`` (and matching the policy's
    ``where``): by cutoff, not by the days removed from bronze in this run, so a run that found the
    warehouse busy is caught up by the next one. None when there is nothing to remove."""
    import duckdb

    from lake.audit import AuditEntry, record

    copy = WAREHOUSE_COPIES.get(table_name)
    path = ctx.settings.warehouse_path
    if copy is None or not path.exists():
        return None
    table, date_column, renames = copy
    unknown = sorted(set(policy.where or {}) - set(renames))
    action = RetentionAction(
        policy=policy.name,
        table=f"warehouse/{table}",
        partition=f"{date_column}<{cutoff.isoformat()}",
        filter=where_predicate(policy.where),
    )
    if unknown:
        action.status = "failed"
        action.error = (
            f"the warehouse copy {table} has no column for where: {unknown}; filter on "
            f"{sorted(renames)} or extend lake.retention.delete.WAREHOUSE_COPIES"
        )
        return action
    where = where_predicate({renames[k]: v for k, v in (policy.where or {}).items()})
    predicate = f"{quote_ident(date_column)} < DATE {quote_literal(cutoff.isoformat())}"
    if where:
        predicate += f" AND {where}"
        # rows a whole-day policy of this run removes (in a dry run: would remove) count there
        whole = ctx.warehouse_cutoffs.get(table)
        if whole is not None:
            predicate += (
                f" AND {quote_ident(date_column)} >= DATE {quote_literal(whole.isoformat())}"
            )
    else:
        ctx.warehouse_cutoffs[table] = max(cutoff, ctx.warehouse_cutoffs.get(table, cutoff))
    try:
        con = duckdb.connect(str(path), read_only=ctx.report.dry_run)
    except duckdb.IOException as exc:
        action.status = "failed"
        action.error = (
            f"the warehouse {path} is in use by another process (a dbt run?); its copy is "
            f"pruned by the next retention run ({exc})"
        )
        return action
    with con:
        found = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name = ?",
            [table],
        ).fetchall()[0][0]
        if not found:
            return None
        count = con.execute(
            f"select count(*) from {qualified('main', table)} where {predicate}"
        ).fetchall()[0][0]
        if not count:
            return None
        action.rows_deleted = count
        if ctx.report.dry_run:
            action.status = "would_delete"
            return action
        con.execute(f"delete from {qualified('main', table)} where {predicate}")
        con.execute("checkpoint")
    record(
        ctx.settings,
        [
            AuditEntry(
                "retention_delete",
                actor=ctx.actor,
                target=f"warehouse/{table}/{action.partition}",
                rows=count,
                details={
                    "policy": policy.name,
                    "run_id": ctx.report.run_id,
                    "as_of": ctx.report.now.isoformat(),
                    "filter": action.filter,
                },
            )
        ],
    )
    return action


def vacuum(ctx: RunContext, info: TableInfo) -> int:
    from deltalake import DeltaTable

    for attempt in range(ctx.max_conflict_retries + 1):
        try:
            removed = DeltaTable(str(info.path)).vacuum(
                retention_hours=0, dry_run=False, enforce_retention_duration=False, full=False
            )
            return len(removed)
        except Exception as exc:
            if not _is_conflict(exc) or attempt == ctx.max_conflict_retries:
                raise
            ctx.sleep(min(0.2 * 2**attempt, 5.0))
    return 0


def checkpoint_table(info: TableInfo) -> None:
    """A checkpoint after the run's commits: a catch-up run adds one commit per partition, and
    every reader would otherwise replay them all."""
    from deltalake import DeltaTable

    try:
        DeltaTable(str(info.path)).create_checkpoint()
    except Exception as exc:  # an optimisation only: the data is already right
        log.warning("checkpoint of %s after retention failed: %s", info.name, exc)


def enforce_files(ctx: RunContext, policy: RetentionPolicy) -> None:
    from lake.audit import AuditEntry, record

    folder = files_folder(policy, ctx.settings)
    if isinstance(folder, str):
        raise RetentionPolicyError(f"policy {policy.name}: {folder}")
    assert policy.keep_days is not None
    limit = (ctx.report.now - dt.timedelta(days=policy.keep_days)).timestamp()
    for path in sorted(folder.rglob("*")):
        # Regular files only, not followed through links; a file still being written has a
        # fresh modification time and is never old enough.
        if (
            path.is_symlink()
            or not path.is_file()
            or not fnmatch.fnmatch(path.name, policy.pattern)
        ):
            continue
        stat = path.stat()
        if stat.st_mtime >= limit:
            continue
        action = RetentionAction(
            policy=policy.name,
            table=f"files:{policy.files}",
            partition=str(path.relative_to(folder)),
            bytes_freed=stat.st_size,
            status="would_delete" if ctx.report.dry_run else "deleted",
        )
        ctx.report.actions.append(action)
        if not ctx.report.dry_run:
            path.unlink(missing_ok=True)
            record(
                ctx.settings,
                AuditEntry(
                    "retention_delete",
                    actor=ctx.actor,
                    target=f"{policy.files}/{action.partition}",
                    details={"policy": policy.name, "run_id": ctx.report.run_id},
                ),
            )
