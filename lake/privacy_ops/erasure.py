"""Erase a user from everything Pulse holds (right to be forgotten), provably.

:func:`erase_user` runs these steps and records the request's status (``requests``) and every
step's row counts in the audit log, always by the subject's keyed hash:

1. take the warehouse's write lock (fail at once if a dbt run holds it: nothing is touched);
2. resolve the subject's identity (user id, linked anonymous ids, PII tokens) from every Delta
   table and warehouse table, and count their rows everywhere;
3. refuse if a collector's WAL holds an unflushed event of theirs (it would land right after);
4. delete their rows from every Delta table and purge the table's history (``delta``);
5. delete their rows from every warehouse table and rewrite the file (``warehouse``);
6. clean loose Parquet, reports, logs, SQLite stores and flushed WAL records (``files``);
7. verify: scan every file of the data dir, decoded, for any identifier (``verify``).

Aggregates built from the removed rows (daily active users ...) are re-derived by the caller
(``pulse privacy erase`` / the ``privacy_erase`` Dagster job run the dbt models and republish
gold): this module imports nothing above ``lake``. ``affected_dates`` says which event dates held
the subject's events.

Idempotent: a second run finds no rows, verifies, and says so. A user who never appeared gets
status ``not_found``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core.settings import Settings
from lake import audit
from lake.privacy_ops import delta, files, requests, warehouse
from lake.privacy_ops.identity import Identity, Relation, resolve, row_predicate, validate_user_id
from lake.privacy_ops.verify import Finding, scan

log = logging.getLogger(__name__)


@dataclass
class ErasureResult:
    request_id: str
    status: str  # completed | not_found | failed
    rows_removed: dict[str, int] = field(default_factory=dict)  # table / file -> rows
    linked_ids: int = 0  # anonymous ids found linked to the user
    tokens: int = 0  # PII tokens found in their rows
    previously_erased: bool = False
    affected_dates: tuple[dt.date, dt.date] | None = None
    history: dict[str, dict[str, int]] = field(default_factory=dict)  # Delta table -> purge stats
    findings: list[Finding] = field(default_factory=list)
    removal_seconds: float = 0.0
    verify_seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows_removed.values())

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "not_found") and not self.findings


def _discover(con, settings: Settings, wh: duckdb.DuckDBPyConnection | None):
    """Delta tables registered in ``con`` (path, relation) and the warehouse's relations."""
    lake_rel: list[tuple[Path, Relation | None]] = []
    for i, path in enumerate(delta.discover_tables(settings)):
        lake_rel.append((path, delta.register(con, settings, path, f"pulse_erasure_lake_{i}")))
    wh_rel = warehouse.relations(wh) if wh is not None else []
    return lake_rel, wh_rel


def _count(con, path: Path, rel: Relation, identity: Identity, dates: list) -> int:
    """Rows of the subject in a registered Delta table; for ``bronze/events`` also appends the
    (min, max) event date of those rows to ``dates`` (one scan for both)."""
    predicate = row_predicate(rel.columns, identity)
    if predicate is None:
        return 0
    if path.name == "events" and any(c.name == "event_date" for c in rel.columns):
        n, low, high = con.execute(
            f'select count(*), min("event_date"), max("event_date") from {rel.name} '
            f"where {predicate}"
        ).fetchall()[0]
        if low is not None:
            dates.append((low, high))
        return int(n)
    return delta.count_rows(con, rel, identity)


def erase_user(
    settings: Settings,
    user_id: str,
    *,
    actor: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ErasureResult:
    """Erase ``user_id`` everywhere (see the module docstring). Raises
    :class:`warehouse.WarehouseLocked` or :class:`files.UnflushedEvents` before touching anything
    when the erasure cannot run now; the request is then marked failed."""
    user_id = validate_user_id(user_id)
    say = progress or (lambda _msg: None)
    subject = audit.subject_token(settings, user_id)
    actor_kw = {"actor": actor} if actor else {}
    request_id = requests.create(settings, subject)
    audit.record(
        settings,
        audit.AuditEntry(
            "erasure_requested", subject=subject, details={"request_id": request_id}, **actor_kw
        ),
    )
    previously = any(r["status"] == "completed" for r in requests.for_subject(settings, subject))
    result = ErasureResult(request_id, "running", previously_erased=previously)
    requests.set_status(settings, request_id, "running")
    started = time.perf_counter()
    wh = None
    scratch = None  # an in-memory DuckDB when there is no warehouse to read through
    try:
        wh = warehouse.open_writer(settings)
        con = wh if wh is not None else (scratch := duckdb.connect())
        lake_rel, wh_rel = _discover(con, settings, wh)
        say(f"{len(lake_rel)} Delta table(s), {len(wh_rel)} warehouse table(s)")
        identity = resolve(con, [r for _, r in lake_rel if r is not None] + wh_rel, user_id)
        say("identity resolved; counting rows")
        result.linked_ids = len(identity.anonymous_ids)
        result.tokens = len(identity.tokens)
        dates: list[tuple[dt.date, dt.date]] = []
        counts = {
            rel.label: _count(con, path, rel, identity, dates)
            for path, rel in lake_rel
            if rel is not None
        }
        counts |= {rel.label: delta.count_rows(con, rel, identity) for rel in wh_rel}
        say(
            f"identity: user id + {result.linked_ids} linked anonymous id(s) + "
            f"{result.tokens} PII token(s); {sum(counts.values())} row(s) in "
            f"{sum(1 for c in counts.values() if c)} table(s)"
        )
        if dates:
            result.affected_dates = (min(d[0] for d in dates), max(d[1] for d in dates))
        files.check_wal(settings, identity)

        for path, rel in lake_rel:
            removed = 0
            if rel is not None:
                con.execute(f"drop view if exists {rel.name}")
            if rel is not None and counts[rel.label]:
                say(f"deleting {counts[rel.label]} row(s) from {rel.label}")
                removed = delta.delete_rows(path, rel, identity)
            name = "lake/" + delta.label(settings, path)
            if removed or delta.table_holds(path, identity.needles):
                say(f"purging the history of {name}")
                result.history[name] = delta.purge_history(path, identity.needles)
            if removed:
                result.rows_removed[name] = removed

        if wh is not None:
            wh_removed = 0
            for rel in wh_rel:
                if counts[rel.label]:
                    n = warehouse.delete_rows(wh, rel, identity)
                    result.rows_removed[rel.label] = n
                    wh_removed += n
            if wh_removed:
                say(
                    f"rewriting the warehouse file without free blocks ({wh_removed} row(s) removed)"
                )
                warehouse.rewrite_file(wh, settings)
            else:
                wh.close()
            wh = None

        say("cleaning loose files, SQLite stores and the WAL")
        report = files.erase_files(settings, identity)
        result.rows_removed |= {f"file/{k}": v for k, v in report.parquet_rows.items()}
        result.rows_removed |= {f"text/{k}": v for k, v in report.text_files.items()}
        result.rows_removed |= {f"sqlite/{k}": v for k, v in report.sqlite_rows.items()}
        if n := files.erase_wal(settings, identity):
            result.rows_removed["wal"] = n
        result.removal_seconds = time.perf_counter() - started

        say("verifying: scanning every file of the data dir")
        verify_started = time.perf_counter()
        result.findings = scan(settings, identity.needles, len(identity.ids))
        result.verify_seconds = time.perf_counter() - verify_started
        if result.findings:
            result.status = "failed"
        elif not result.rows_removed and not result.history and not previously:
            result.status = "not_found"
        else:
            result.status = "completed"
    except BaseException as exc:
        if wh is not None:
            wh.close()
        requests.set_status(
            settings,
            request_id,
            "failed",
            result.rows_removed,
            error=f"{type(exc).__name__}: {exc}",
        )
        audit.record(
            settings,
            audit.AuditEntry(
                "erasure",
                subject=subject,
                rows=result.total_rows,
                status="failed",
                details={"request_id": request_id, "error": type(exc).__name__},
                **actor_kw,
            ),
        )
        raise
    finally:
        if scratch is not None:
            scratch.close()
    requests.set_status(settings, request_id, result.status, result.rows_removed)
    entries = [
        audit.AuditEntry(
            "erasure",
            subject=subject,
            target=target,
            rows=rows,
            details={"request_id": request_id},
            **actor_kw,
        )
        for target, rows in sorted(result.rows_removed.items())
    ]
    entries.append(
        audit.AuditEntry(
            "erasure",
            subject=subject,
            target="*",
            rows=result.total_rows,
            status="ok" if result.status != "failed" else "failed",
            details={
                "request_id": request_id,
                "result": result.status,
                "tables": len(result.rows_removed),
                "linked_ids": result.linked_ids,
                "tokens": result.tokens,
                "findings": [f"{f.path}: {f.what}" for f in result.findings][:50],
                "removal_seconds": round(result.removal_seconds, 3),
                "verify_seconds": round(result.verify_seconds, 3),
            },
            **actor_kw,
        )
    )
    audit.record(settings, entries)
    return result
