"""Erasure in the lake's Delta tables, history included.

Every Delta table under the lake dir is found by its ``_delta_log`` (new tables are covered
without a list to maintain); only the privacy audit table is skipped (it holds keyed hashes, and
its history is its proof). In each table the subject's rows (:func:`identity.row_predicate`) are
deleted, then the table's history is purged, because old versions still hold them:

1. ``vacuum`` (delta-rs "lite" mode: only files the log says were removed, so a collector's
   data file written but not yet committed is never touched) with retention 0, which also adds
   two clean commits (VACUUM START/END) on top of the DELETE whose ``operationParameters``
   carry the predicate, i.e. the identifiers;
2. a checkpoint at the latest version (it holds the table state only: no commit info, and no
   statistics of removed files), then every log entry and checkpoint below it is deleted, so
   neither the DELETE's predicate nor the ``add`` statistics (min/max ``user_id``) of the old
   files survive; app transactions (the collectors' flushed WAL offsets) live on in the
   checkpoint;
3. any data file the table no longer references that still holds one of the identifiers (left
   by a crash, or removed before the log's tombstones expired) is deleted.

Time travel to versions before the erasure is gone afterwards: that is the point.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from core.settings import Settings
from lake.delta_files import local_data_files
from lake.privacy_ops.identity import (
    Identity,
    Relation,
    detect_columns,
    row_predicate,
)
from lake.privacy_ops.verify import file_hits, log_hits
from lake.sql import quote_ident, quote_literal

log = logging.getLogger(__name__)

LOG_DIR = "_delta_log"
CONFLICT_RETRIES = 5


def discover_tables(settings: Settings) -> list[Path]:
    """Every Delta table under the lake dir except the privacy audit log, sorted."""
    from lake.audit import audit_path

    root = settings.lake_dir
    if not root.exists():
        return []
    skip = audit_path(settings).resolve()
    found = []
    for dirpath, dirnames, _files in os.walk(root):
        path = Path(dirpath)
        if LOG_DIR in dirnames:
            if path.resolve() != skip:
                found.append(path)
            dirnames.clear()  # a table's own folders hold no tables
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found)


def label(settings: Settings, path: Path) -> str:
    return path.relative_to(settings.lake_dir).as_posix()


def register(con, settings: Settings, path: Path, alias: str) -> Relation | None:
    """A temporary DuckDB view ``alias`` over the table's current files (None: no files).

    DuckDB reads the Parquet files itself (partition values from the Hive-style paths delta-rs
    writes): faster than an Arrow dataset, and files rewritten by delta-rs (``string_view``
    columns) would break pyarrow's filter pushdown (``equal(string, string_view)``)."""
    table = DeltaTable(str(path))
    local = local_data_files(table)
    if local is None:
        raise ValueError(f"{path} is not a local Delta table: erasure works on the local lake")
    files = [str(f) for f in local]
    if not files:
        return None
    listing = "[" + ", ".join(quote_literal(f) for f in files) + "]"
    hive = "true" if table.metadata().partition_columns else "false"
    alias = quote_ident(alias)
    con.execute(
        f"create or replace temp view {alias} as select * from read_parquet({listing}, "
        f"hive_partitioning = {hive}, union_by_name = true)"
    )
    names_types = [
        (name, dtype == "VARCHAR")
        for name, dtype, *_ in con.execute(f"describe {alias}").fetchall()
    ]
    relation = Relation(
        alias, "lake/" + label(settings, path), detect_columns(con, alias, names_types)
    )
    return relation


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def count_rows(con, relation: Relation, identity: Identity) -> int:
    predicate = row_predicate(relation.columns, identity)
    if predicate is None:
        return 0
    return int(
        con.execute(f"select count(*) from {relation.name} where {predicate}").fetchall()[0][0]
    )


def delete_rows(path: Path, relation: Relation, identity: Identity) -> int:
    """Delete the subject's rows in one Delta commit (retried on a concurrent conflict)."""
    predicate = row_predicate(relation.columns, identity)
    if predicate is None:
        return 0
    for attempt in range(CONFLICT_RETRIES):
        try:
            metrics = DeltaTable(str(path)).delete(predicate)
            return int(metrics.get("num_deleted_rows") or 0)
        except Exception as exc:  # CommitFailedError & co: a collector appended meanwhile
            if "conflict" not in str(exc).lower() or attempt == CONFLICT_RETRIES - 1:
                raise
            log.info("delete in %s conflicted with a concurrent commit; retrying", path)
            time.sleep(0.2 * (attempt + 1))
    return 0


def purge_history(path: Path, needles: Sequence[str]) -> dict[str, int]:
    """Vacuum, checkpoint and drop older log entries and stray files holding ``needles``."""
    table = DeltaTable(str(path))
    vacuumed = table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    table = DeltaTable(str(path))
    if _newest_commit_holds(path, table.version(), needles):
        # The newest commit (e.g. a DELETE when there was nothing to vacuum) names the subject:
        # put a clean commit on top so it can go below the checkpoint.
        # Re-setting the log retention to its current value changes nothing but adds a commit.
        key = "delta.logRetentionDuration"
        value = table.metadata().configuration.get(key, "interval 30 days")
        table.alter.set_table_properties({key: value}, raise_if_not_exists=False)
        table = DeltaTable(str(path))
    table.create_checkpoint()
    version = table.version()
    log_removed = _drop_log_before(path / LOG_DIR, version)
    referenced = {f.resolve() for f in local_data_files(table) or []}
    strays = 0
    for file in path.rglob("*.parquet"):
        if LOG_DIR in file.parts or file.resolve() in referenced:
            continue
        if file_hits(file, needles):
            file.unlink(missing_ok=True)
            strays += 1
    return {
        "vacuumed_files": len(vacuumed or []),
        "log_files_removed": log_removed,
        "stray_files_removed": strays,
    }


def _newest_commit_holds(path: Path, version: int, needles: Sequence[str]) -> bool:
    commit = path / LOG_DIR / f"{version:020d}.json"
    return commit.exists() and bool(log_hits(commit.read_bytes(), needles))


def _drop_log_before(log_dir: Path, version: int) -> int:
    """Delete commits, checkpoints and checksums of versions below ``version``."""
    removed = 0
    for file in log_dir.iterdir():
        head = file.name.split(".", 1)[0]
        if len(head) == 20 and head.isdigit() and int(head) < version:
            file.unlink(missing_ok=True)
            removed += 1
    return removed


def table_holds(path: Path, needles: Sequence[str]) -> bool:
    """Whether any file of the table (data, log, checkpoint) still holds one of ``needles``."""
    return any(file_hits(f, needles) for f in path.rglob("*") if f.is_file())
