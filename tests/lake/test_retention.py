"""Retention with a fake clock: exactly the expired partitions (and rows of filtered policies) are
archived as zstd Parquet and deleted, nothing is left in older Delta versions, every action is
audited and recorded, a dry run changes nothing, bad policy files fail with a message saying what
to fix, and an append racing the retention is never lost."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from core.settings import Settings, SettingsError
from lake.audit import read as read_audit
from lake.retention.enforce import enforce
from lake.retention.planning import cutoff_date, delete_predicate
from lake.retention.policy import (
    DEFAULT_POLICY_FILE,
    RetentionPolicyError,
    load_policies,
    parse_keep,
    parse_policies,
)
from lake.retention.report import read_run_history
from lake.tables import EVENTS_SCHEMA
from lake.writer import DeltaSink, rows_to_table

NOW = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)
FIRST = dt.date(2026, 4, 1)  # 30 days of events: 2026-04-01 .. 2026-04-30
EVENT_NAMES = ("App Opened", "API Request", "Workout Completed")


def _event(day: dt.date, i: int, name: str, tag: str = "") -> dict:
    ts = int(dt.datetime.combine(day, dt.time(12, i % 60), dt.UTC).timestamp() * 1_000_000)
    return {
        "message_id": f"m-{day.isoformat()}-{name}-{i}{tag}",
        "type": "track",
        "event": name,
        "user_id": f"u{i % 4}",
        "timestamp": ts,
        "received_at": ts,
        "properties": '{"endpoint": "/v1/plans", "status": 200}' if name == "API Request" else "{}",
        "source_id": "src",
        "collector_id": "test",
        "sequence": i,
        "event_date": day,
    }


def _lake(settings: Settings, days: int = 30, per_event: int = 3) -> pa.Table:
    rows = [
        _event(FIRST + dt.timedelta(days=d), i, name)
        for d in range(days)
        for name in EVENT_NAMES
        for i in range(per_event)
    ]
    DeltaSink(settings).append("events", rows)
    return rows_to_table(rows, EVENTS_SCHEMA)


def _policies(text: str) -> list:
    return parse_policies("version: 1\npolicies:\n" + text)


def _dates(settings: Settings) -> list[dt.date]:
    table = DeltaTable(str(settings.table_path("bronze", "events"))).to_pyarrow_table()
    return sorted(set(table.column("event_date").to_pylist()))


def _events(settings: Settings) -> pa.Table:
    return DeltaTable(str(settings.table_path("bronze", "events"))).to_pyarrow_table()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_expired_partitions_are_archived_deleted_vacuumed_and_audited(settings):
    original = _lake(settings)
    policies = _policies("  - {name: raw_events, table: bronze/events, keep: 20d, archive: true}\n")

    report = enforce(settings, policies, now=NOW, actor="tester")

    cutoff = dt.date(2026, 4, 11)  # 2026-05-01 minus 20 days: older partitions expire
    expired = [FIRST + dt.timedelta(days=d) for d in range(10)]
    assert [a.partition for a in report.actions] == [f"event_date={d}" for d in expired]
    assert _dates(settings)[0] == cutoff  # the boundary day is kept, the one before is not
    assert len(_dates(settings)) == 20
    assert report.rows_deleted == report.rows_archived == 10 * 9
    assert report.bytes_freed > 0 and all(a.bytes_freed > 0 for a in report.actions)

    # Archives: exactly the documented layout, zstd Parquet, the very same rows.
    archive = settings.data_dir / "archive" / "bronze" / "events"
    for day in expired:
        files = list((archive / f"event_date={day}").glob("part-*.parquet"))
        assert len(files) == 1, files
        meta = pq.ParquetFile(files[0]).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
        archived = pq.read_table(files[0]).sort_by("message_id")
        expected = original.filter(pa.compute.equal(original["event_date"], day))
        assert archived.schema.equals(EVENTS_SCHEMA, check_metadata=False)
        assert archived.to_pylist() == expected.sort_by("message_id").to_pylist()
    assert not list(archive.rglob("_tmp-*"))

    # Vacuumed: no data file of an expired day is left, so no older version still holds them.
    table_dir = settings.table_path("bronze", "events")
    assert not [p for d in expired for p in (table_dir / f"event_date={d}").glob("*.parquet")]
    assert report.tables["bronze/events"]["vacuumed_files"] == 10

    audit = read_audit(settings).to_pylist()
    assert [(e["action"], e["target"], e["rows"]) for e in audit] == [
        (action, f"bronze/events/event_date={d}", 9)
        for d in expired
        for action in ("retention_archive", "retention_delete")
    ]
    assert {e["actor"] for e in audit} == {"tester"}
    history = read_run_history(settings).to_pylist()
    assert [(h["partition"], h["rows_deleted"], h["status"]) for h in history] == [
        (f"event_date={d}", 9, "deleted") for d in expired
    ]
    assert {h["as_of"] for h in history} == {NOW}

    # Enforced again the same day: nothing left to do, and the run says so.
    again = enforce(settings, policies, now=NOW)
    assert again.actions == []
    assert read_run_history(settings).column("status").to_pylist()[-1] == ("nothing_expired")


def test_row_filtered_policy_removes_only_matching_rows(settings):
    original = _lake(settings)
    policies = _policies(
        "  - {name: raw_events, table: bronze/events, keep: 25d, archive: true}\n"
        "  - name: api_telemetry\n"
        "    table: bronze/events\n"
        "    where: {event: API Request}\n"
        "    keep: 10d\n"
    )

    report = enforce(settings, policies, now=NOW)

    raw = [a for a in report.actions if a.policy == "raw_events"]
    api = [a for a in report.actions if a.policy == "api_telemetry"]
    # raw: days before 04-06 whole; api: API Request rows of 04-06 .. 04-20 only.
    assert [a.partition for a in raw] == [f"event_date=2026-04-0{d}" for d in range(1, 6)]
    assert [a.partition for a in api] == [
        f"event_date={dt.date(2026, 4, 6) + dt.timedelta(days=d)}" for d in range(15)
    ]
    assert all(a.rows_deleted == 3 and a.rows_archived == 0 and a.archive_path is None for a in api)
    assert all(a.filter == "\"event\" IN ('API Request')" for a in api)

    left = _events(settings)
    left_ids = set(left.column("message_id").to_pylist())
    for row in original.to_pylist():
        day = row["event_date"]
        gone = day < dt.date(2026, 4, 6) or (
            day < dt.date(2026, 4, 21) and row["event"] == "API Request"
        )
        assert (row["message_id"] not in left_ids) == gone, row["message_id"]
    # Only the whole-partition policy archives.
    archive = settings.data_dir / "archive" / "bronze" / "events"
    assert sorted(p.name for p in archive.iterdir()) == [
        f"event_date=2026-04-0{d}" for d in range(1, 6)
    ]
    deletes = read_audit(settings, action="retention_delete").to_pylist()
    assert len(deletes) == 20 and sum(e["rows"] for e in deletes) == 5 * 9 + 15 * 3


def test_dry_run_reports_and_changes_nothing(settings):
    _lake(settings, days=10)
    policies = _policies(
        "  - {name: raw_events, table: bronze/events, keep: 25d, archive: true}\n"
        "  - {name: api_telemetry, table: bronze/events, where: {event: API Request}, keep: 22d}\n"
    )

    def state() -> dict[str, tuple[int, int]]:
        return {
            str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in settings.data_dir.rglob("*")
            if p.is_file()
        }

    before = state()
    report = enforce(settings, policies, now=NOW, dry_run=True)

    assert state() == before
    assert report.dry_run and {a.status for a in report.actions} == {"would_delete"}
    # 04-01..04-05 whole (25 days), then API rows of 04-06..04-08 (22 days), not counted twice.
    assert [(a.policy, a.partition, a.rows_deleted) for a in report.actions] == [
        ("raw_events", f"event_date=2026-04-0{d}", 9) for d in range(1, 6)
    ] + [("api_telemetry", f"event_date=2026-04-0{d}", 3) for d in range(6, 9)]
    assert report.actions[0].archive_path.endswith(
        f"/archive/bronze/events/event_date=2026-04-01/part-{report.run_id}-raw_events.parquet"
    )
    assert report.bytes_freed > 0


def test_archive_location_setting_accepts_uris(tmp_path):
    custom = Settings(data_dir=tmp_path / "data", archive_uri=f"file://{tmp_path}/vault")
    _lake(custom, days=3)
    policies = _policies("  - {name: raw, table: bronze/events, keep: 29d, archive: true}\n")
    report = enforce(custom, policies, now=NOW)
    assert report.rows_archived == 9
    assert len(list((tmp_path / "vault/bronze/events/event_date=2026-04-01").glob("*"))) == 1
    assert Settings(archive_uri="s3://bucket/pulse-archive").archive_location.startswith("s3://")
    assert Settings(data_dir=tmp_path).archive_location == str(tmp_path / "archive")
    with pytest.raises(ValueError, match=r"unsupported archive scheme 'ftp'"):
        Settings(archive_uri="ftp://host/archive")


def test_appends_racing_retention_are_never_lost(settings):
    """A late writer keeps appending to an expiring day while it is archived and deleted: each
    row ends up in the table or in the archive, exactly once."""
    _lake(settings, days=4, per_event=20)
    sink = DeltaSink(settings)
    late: list[str] = []

    def writer() -> None:
        for k in range(25):
            day = FIRST + dt.timedelta(days=k % 2)  # both expiring days
            row = _event(day, k, "App Opened", tag=f"-late{k}")
            # Like the collector's flusher: an append that conflicts with the delete is retried
            # (the events are still in its WAL).
            for _ in range(50):
                try:
                    sink.append("events", [row])
                    break
                except CommitFailedError:
                    time.sleep(0.01)
            late.append(row["message_id"])

    thread = threading.Thread(target=writer)
    thread.start()
    policies = _policies("  - {name: raw, table: bronze/events, keep: 28d, archive: true}\n")
    report = enforce(settings, policies, now=NOW, max_conflict_retries=30, sleep=lambda s: None)
    thread.join()

    assert not report.failed
    table_ids = _events(settings).column("message_id").to_pylist()
    archived_ids = (
        pq.ParquetDataset(str(settings.data_dir / "archive"), partitioning=None)
        .read(columns=["message_id"])
        .column("message_id")
        .to_pylist()
    )
    assert len(set(table_ids)) == len(table_ids) and len(set(archived_ids)) == len(archived_ids)
    assert not set(table_ids) & set(archived_ids)
    total = 4 * 3 * 20 + len(late)
    assert len(late) == 25
    assert len(table_ids) + len(archived_ids) == total
    assert set(late) <= set(table_ids) | set(archived_ids)
    assert report.rows_archived == len(archived_ids) == report.rows_deleted


def test_files_policy_deletes_old_matching_files_only(settings):
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True)
    old = NOW.timestamp() - 40 * 86400
    for name, mtime in (
        ("collector.log.1", old),
        ("collector.log", NOW.timestamp()),
        ("notes.txt", old),
    ):
        (logs / name).write_text("line\n")
        os.utime(logs / name, (mtime, mtime))
    policies = _policies("  - {name: logs, files: logs, pattern: '*.log*', keep: 30d}\n")

    dry = enforce(settings, policies, now=NOW, dry_run=True)
    assert [a.partition for a in dry.actions] == ["collector.log.1"]
    assert (logs / "collector.log.1").exists()

    done = enforce(settings, policies, now=NOW)
    assert [(a.partition, a.status) for a in done.actions] == [("collector.log.1", "deleted")]
    assert sorted(p.name for p in logs.iterdir()) == ["collector.log", "notes.txt"]
    assert read_audit(settings).column("target").to_pylist() == ["logs/collector.log.1"]


def test_default_policy_file_is_valid(settings):
    policies = {p.name: p for p in load_policies(settings)}
    assert policies["raw_events"].keep_days == 400 and policies["raw_events"].archive
    assert policies["api_telemetry"].where == {"event": ["API Request"]}
    assert policies["api_telemetry"].keep_days == 90
    assert policies["quarantine"].keep_days == 30
    assert policies["aggregates"].keep_days is None  # aggregates are kept


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            "  - {name: raw, table: bronze/eventz, keep: 30d}\n",
            r"policy raw: unknown table 'bronze/eventz' \(no Delta table at .*bronze/eventz\); "
            r"known tables: (.*, )?bronze/events, bronze/quarantine",
        ),
        (
            "  - {name: raw, table: bronze/events, keep: 40 dayz}\n",
            r"policy raw, keep: keep '40 dayz' is not a duration: write .* 400d, 12w, 1y",
        ),
        (
            "  - {name: raw, table: bronze/events, keep: -5d}\n",
            r"policy raw, keep: keep must be at least 1 day \(got -5 days\)",
        ),
        (
            "  - {name: raw, table: bronze/events, keep: -5}\n",
            r"keep must be at least 1 day \(got -5 days\)",
        ),
        (
            "  - {name: logs, files: logs, keep: 30d}\n",
            r"policy logs: files: folder .*/logs does not exist; create it or remove the policy",
        ),
        (
            "  - {name: up, files: ../elsewhere, keep: 30d}\n",
            r"must be a folder relative to the data dir",
        ),
        (
            "  - {name: wal, files: wal, keep: 1d}\n",
            r"flusher deletes WAL segments",
        ),
        (
            "  - {name: raw, table: bronze/events, keep: 30d, archiv: true}\n",
            r"policy raw, archiv: unknown key: remove it or fix its spelling",
        ),
        (
            "  - {name: raw, table: bronze/events, keep: 30d}\n"
            "  - {name: raw2, table: bronze/events, keep: 60d}\n",
            r"policies 'raw' and 'raw2' both cover all of bronze/events",
        ),
        (
            "  - {name: api, table: bronze/events, where: {endpoint: /v1}, keep: 30d}\n",
            r"bronze/events has no column 'endpoint'",
        ),
        (
            "  - {name: api, table: bronze/events, where: {sequence: '1'}, keep: 30d}\n",
            r"column 'sequence' of bronze/events is not a string column",
        ),
        (
            "  - {name: audit, table: system/privacy_audit, keep: 30d}\n",
            r"system/privacy_audit cannot have a retention policy: it is the append-only",
        ),
        (
            "  - {name: marts, table: gold/*, keep: 30d}\n",
            r"only `keep: forever` fits gold/\*",
        ),
        (
            "  - {name: raw, table: events, keep: 30d}\n",
            r"table 'events' must be <layer>/<table> \(e.g. bronze/events\)",
        ),
        ("  - {name: raw, keep: 30d}\n", r"give exactly one of table: .* or files:"),
    ],
)
def test_bad_policy_files_fail_with_what_to_fix(settings, tmp_path, policy, message):
    path = tmp_path / "retention.yaml"
    path.write_text("version: 1\npolicies:\n" + policy)
    with pytest.raises(RetentionPolicyError, match=message) as caught:
        load_policies(settings, path)
    assert str(path) in str(caught.value)


def test_missing_or_malformed_policy_file(settings, tmp_path):
    with pytest.raises(RetentionPolicyError, match=r"does not exist: create it .*RETENTION_POLICY"):
        load_policies(settings, tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("policies: [\n")
    with pytest.raises(RetentionPolicyError, match=r"broken.yaml is not valid YAML"):
        load_policies(settings, broken)
    broken.write_text("- name: raw\n")
    with pytest.raises(RetentionPolicyError, match=r"must be a mapping with a `policies:` list"):
        load_policies(settings, broken)


def test_policy_file_setting_is_used(tmp_path, monkeypatch):
    path = tmp_path / "mine.yaml"
    path.write_text("version: 1\npolicies:\n  - {name: q, table: bronze/quarantine, keep: 7d}\n")
    monkeypatch.setenv("PULSE_RETENTION_POLICY_FILE", str(path))
    monkeypatch.setenv("PULSE_DATA_DIR", str(tmp_path / "data"))
    from core.settings import get_settings

    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert [p.name for p in load_policies(settings)] == ["q"]
        assert enforce(settings, dry_run=True, now=NOW).policy_file == str(path)
    finally:
        get_settings.cache_clear()
    with pytest.raises(SettingsError):
        monkeypatch.setenv("PULSE_ARCHIVE_URI", "ftp://x/y")
        get_settings.cache_clear()
        get_settings()
    get_settings.cache_clear()


def test_keep_durations():
    assert parse_keep(400) == 400
    assert parse_keep("400d") == parse_keep("400 days") == 400
    assert parse_keep("12w") == 84
    assert parse_keep("1y") == 365
    assert parse_keep("forever") is None
    assert cutoff_date(NOW, 30) == dt.date(2026, 4, 1)
    assert (
        delete_predicate("event_date", dt.date(2026, 1, 2), {"event": ["it's"]})
        == "\"event_date\" = DATE '2026-01-02' AND \"event\" IN ('it''s')"
    )


def test_cli_dry_run_then_enforce(settings, monkeypatch):
    from click.testing import CliRunner

    from core.settings import get_settings
    from pulse.cli import main

    _lake(settings, days=3)
    monkeypatch.setenv("PULSE_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        dry = runner.invoke(main, ["privacy", "retention", "--dry-run", "--now", "2027-06-01"])
        assert dry.exit_code == 0, dry.output
        assert "dry run: nothing changed" in dry.output
        assert "would_delete bronze/events/event_date=2026-04-01" in dry.output
        assert "total: would archive 27 rows, would delete 27 rows" in dry.output
        assert len(_dates(settings)) == 3
        done = runner.invoke(main, ["privacy", "retention", "--now", "2027-06-01"])
        assert done.exit_code == 0, done.output
        assert "total: archived 27 rows, deleted 27 rows" in done.output
        assert _events(settings).num_rows == 0
        runs = runner.invoke(main, ["privacy", "retention-runs"])
        assert runs.exit_code == 0, runs.output
        assert runs.output.count("deleted ") == 3
        assert "bronze/events/event_date=2026-04-01 policy=raw_events archived=9" in runs.output
        bad = Path(settings.data_dir) / "bad.yaml"
        bad.write_text("version: 1\npolicies:\n  - {name: x, table: bronze/x, keep: 1d}\n")
        failed = runner.invoke(main, ["privacy", "retention", "--policy-file", str(bad)])
        assert failed.exit_code == 1 and "unknown table 'bronze/x'" in failed.output
    finally:
        get_settings.cache_clear()


def test_vacuum_spares_files_a_writer_has_not_committed_yet(settings):
    _lake(settings, days=3)
    # A collector mid-append has written its data file but not committed it yet.
    in_flight = settings.table_path("bronze", "events") / "event_date=2026-04-03" / "part-w.parquet"
    in_flight.write_bytes(b"not committed yet")
    policies = _policies("  - {name: raw, table: bronze/events, keep: 29d}\n")

    report = enforce(settings, policies, now=NOW)

    assert report.rows_deleted == 9 and report.tables["bronze/events"]["vacuumed_files"] == 1
    assert in_flight.read_bytes() == b"not committed yet"


def test_a_failed_archive_deletes_nothing_and_is_reported(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the archive folder should be")
    settings = Settings(data_dir=tmp_path / "data", archive_uri=str(blocker))
    original = _lake(settings, days=3)
    policies = _policies("  - {name: raw, table: bronze/events, keep: 29d, archive: true}\n")

    report = enforce(settings, policies, now=NOW)

    [failed] = report.failed
    assert failed.partition == "event_date=2026-04-01" and failed.error
    assert report.rows_deleted == 0
    assert _events(settings).num_rows == original.num_rows  # nothing deleted unarchived
    assert read_audit(settings).num_rows == 0
    history = read_run_history(settings).to_pylist()
    assert [(h["status"], h["partition"]) for h in history] == [("failed", "event_date=2026-04-01")]


def _warehouse_copy(settings: Settings, rows: pa.Table) -> None:
    """A warehouse holding the raw events' copy as dbt's stg_events does (its column names)."""
    import duckdb

    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.register("bronze_rows", rows)
        con.execute(
            "create table main.stg_events as select message_id, type as event_type, "
            "event as event_name, event_date, properties from bronze_rows"
        )


def _warehouse_ids(settings: Settings) -> set[str]:
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {r[0] for r in con.execute("select message_id from main.stg_events").fetchall()}


POLICIES = (
    "  - {name: raw_events, table: bronze/events, keep: 25d}\n"
    "  - name: api_telemetry\n"
    "    table: bronze/events\n"
    "    where: {event: API Request}\n"
    "    keep: 10d\n"
)


def test_the_warehouse_copy_of_raw_events_expires_with_bronze(settings):
    """dbt's stg_events keeps the raw payloads: a policy on bronze/events prunes it too, with the
    same cutoff and filter, so the warehouse holds exactly the events bronze still holds."""
    _warehouse_copy(settings, _lake(settings))

    dry = enforce(settings, _policies(POLICIES), now=NOW, dry_run=True)
    planned = {a.policy: a for a in dry.actions if a.table == "warehouse/stg_events"}
    assert (planned["raw_events"].status, planned["raw_events"].rows_deleted) == (
        "would_delete",
        5 * 9,
    )
    assert planned["api_telemetry"].rows_deleted == 15 * 3  # 04-06 .. 04-20, once counted
    assert len(_warehouse_ids(settings)) == 30 * 9  # a dry run changes nothing

    report = enforce(settings, _policies(POLICIES), now=NOW)
    done = {a.policy: a for a in report.actions if a.table == "warehouse/stg_events"}
    assert done["raw_events"].partition == "event_date<2026-04-06"
    assert (done["raw_events"].rows_deleted, done["api_telemetry"].rows_deleted) == (45, 45)
    assert _warehouse_ids(settings) == set(_events(settings).column("message_id").to_pylist())
    audited = {e["target"] for e in read_audit(settings, action="retention_delete").to_pylist()}
    assert "warehouse/stg_events/event_date<2026-04-06" in audited
    # a second run finds nothing more to remove
    again = enforce(settings, _policies(POLICIES), now=NOW)
    assert not [a for a in again.actions if a.table == "warehouse/stg_events"]


def test_a_busy_warehouse_is_reported_and_caught_up_by_the_next_run(settings):
    import subprocess
    import sys

    _warehouse_copy(settings, _lake(settings))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(settings.warehouse_path)!r})\n"
            "print('holding', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        report = enforce(settings, _policies(POLICIES), now=NOW)
    finally:
        holder.communicate("", timeout=30)
    [failed, *_] = [a for a in report.actions if a.table == "warehouse/stg_events"]
    assert failed.status == "failed" and "in use by another process" in failed.error
    assert min(_dates(settings)) == dt.date(2026, 4, 6)  # bronze was pruned regardless
    assert len(_warehouse_ids(settings)) == 30 * 9

    caught_up = enforce(settings, _policies(POLICIES), now=NOW)
    assert sum(a.rows_deleted for a in caught_up.actions if a.table == "warehouse/stg_events") == 90
    assert _warehouse_ids(settings) == set(_events(settings).column("message_id").to_pylist())


@pytest.mark.integration
def test_retention_on_a_fully_materialized_data_dir_with_odd_column_names(demo_run, tmp_path):
    """Every table a full ``pulse demo`` wrote, plus a table whose date partition is named
    ``order`` and whose filter column is ``table`` (reserved words) beside a quoted column: the
    expired rows are archived and deleted, everything else stays."""
    import shutil

    from deltalake import write_deltalake

    data = tmp_path / "data"
    shutil.copytree(demo_run[0], data, ignore=shutil.ignore_patterns("dbt"))
    settings = Settings(data_dir=data)
    old, new = dt.date(2026, 1, 2), dt.date(2026, 2, 27)
    odd = pa.table(
        {
            "order": pa.array([old, old, new], pa.date32()),
            "table": ["expire", "keep", "expire"],
            "select": ["a", "b", "c"],
            'it\'s "quoted"': ["x", "y", "z"],
        }
    )
    write_deltalake(
        str(settings.table_path("bronze", "app_odd_columns")), odd, partition_by=["order"]
    )
    policy_file = tmp_path / "retention.yaml"
    policy_file.write_text(
        DEFAULT_POLICY_FILE.read_text() + "  - name: odd_columns\n"
        "    table: bronze/app_odd_columns\n"
        "    where: {table: expire}\n"
        "    keep: 30d\n"
        "    archive: true\n"
    )
    events_before = _events(settings)
    now = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)  # API telemetry (90d) keeps all; odd: 30d
    report = enforce(settings, load_policies(settings, policy_file), now=now)
    assert report.failed == [], report.failed
    odd_actions = [a for a in report.actions if a.policy == "odd_columns"]
    assert [(a.partition, a.status, a.rows_deleted) for a in odd_actions] == [
        ("order=2026-01-02", "deleted", 1)
    ]
    left = DeltaTable(str(settings.table_path("bronze", "app_odd_columns"))).to_pyarrow_table()
    assert sorted(left.column("select").to_pylist()) == ["b", "c"]
    assert odd_actions[0].rows_archived == 1 and odd_actions[0].archive_path
    back = pq.read_table(odd_actions[0].archive_path.removeprefix("file://"))
    assert back.column("select").to_pylist() == ["a"]
    assert back.column('it\'s "quoted"').to_pylist() == ["x"]
    # The platform's own tables (bronze events inside their 400 days, the system tables with
    # their ``table`` column) are untouched.
    assert _events(settings).num_rows == events_before.num_rows
    scores = DeltaTable(str(settings.table_path("system", "quality_scores"))).to_pyarrow_table()
    assert scores.num_rows > 0 and "table" in scores.column_names
