"""The retention asset runs in-process in Dagster with a fake clock: it removes the expired
partitions, audits them as the run, and its materialization carries the report; a dry run changes
nothing; a bad policy file fails the run with the validation message."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
from deltalake import DeltaTable

from lake.audit import read as read_audit
from lake.retention.report import read_run_history
from lake.writer import DeltaSink
from orchestration.assets.bronze import BRONZE_ASSETS
from orchestration.assets.maintenance import MAINTENANCE_ASSETS
from orchestration.assets.retention import retention_report
from orchestration.jobs import DEFAULT_SELECTION, retention_job
from orchestration.resources import PulseResource
from orchestration.schedules import build_schedules, retention_daily

DAYS = [dt.date(2026, 1, 1) + dt.timedelta(days=d) for d in range(6)]


def _row(day: dt.date, i: int, event: str) -> dict:
    ts = int(dt.datetime.combine(day, dt.time(8), dt.UTC).timestamp() * 1_000_000)
    return {
        "message_id": f"{day}-{event}-{i}",
        "type": "track",
        "event": event,
        "user_id": f"u{i}",
        "timestamp": ts,
        "received_at": ts,
        "source_id": "src",
        "collector_id": "test",
        "sequence": i,
        "event_date": day,
    }


@pytest.fixture
def lake(pulse_settings):
    rows = [_row(d, i, e) for d in DAYS for e in ("App Opened", "API Request") for i in range(4)]
    DeltaSink(pulse_settings).append("events", rows)
    quarantine = [
        {
            "reason": "invalid",
            "payload": "{}",
            "source_id": "src",
            "collector_id": "test",
            "received_at": int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1e6),
            "received_date": dt.date(2026, 1, 1),
        }
    ]
    DeltaSink(pulse_settings).append("quarantine", quarantine)
    return pulse_settings


def _materialize(settings, **config) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [retention_report],
        resources={"pulse": PulseResource.from_settings(settings)},
        run_config={"ops": {"retention_report": {"config": config}}},
        raise_on_error=False,
    )


def _events(settings):
    return DeltaTable(str(settings.table_path("bronze", "events"))).to_pyarrow_table()


def test_retention_asset_enforces_the_default_policies_and_reports(lake):
    # As of 2026-04-05: API telemetry (90 days) expires before 2026-01-05, quarantine (30 days)
    # before 2026-03-06, raw events (400 days) are all kept.
    result = _materialize(lake, now="2026-04-05")

    assert result.success
    [materialization] = result.asset_materializations_for_node("retention_report")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert meta["mode"] == "enforce"
    assert meta["as_of"].startswith("2026-04-05")
    assert meta["rows_deleted"] == 4 * 4 + 1 and meta["rows_archived"] == 0
    assert meta["partitions"] == 5 and meta["failed"] == 0
    assert meta["bytes_freed"] > 0
    assert meta["per_table"] == {
        "bronze/events": {
            "partitions": 4,
            "rows_archived": 0,
            "rows_deleted": 16,
            "bytes_freed": meta["per_table"]["bronze/events"]["bytes_freed"],
        },
        "bronze/quarantine": {
            "partitions": 1,
            "rows_archived": 0,
            "rows_deleted": 1,
            "bytes_freed": meta["per_table"]["bronze/quarantine"]["bytes_freed"],
        },
    }
    assert "| api_telemetry | bronze/events | event_date=2026-01-01 |" in meta["report"]

    events = _events(lake)
    api_days = {r["event_date"] for r in events.to_pylist() if r["event"] == "API Request"}
    assert api_days == set(DAYS[4:])
    assert events.num_rows == 6 * 8 - 16
    run_id = result.run_id
    audit = read_audit(lake, action="retention_delete").to_pylist()
    assert len(audit) == 5 and {e["actor"] for e in audit} == {f"dagster:{run_id}"}
    assert set(read_run_history(lake).column("run_id").to_pylist()) == {run_id}


def test_dry_run_materializes_the_report_and_changes_nothing(lake):
    before = _events(lake).num_rows
    version = DeltaTable(str(lake.table_path("bronze", "events"))).version()

    result = _materialize(lake, now="2027-06-01", dry_run=True)

    assert result.success
    [materialization] = result.asset_materializations_for_node("retention_report")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert meta["mode"] == "dry_run"
    assert meta["rows_deleted"] == before + 1  # every event (400 days) and the quarantined one
    assert meta["rows_archived"] == before
    assert _events(lake).num_rows == before
    assert DeltaTable(str(lake.table_path("bronze", "events"))).version() == version
    assert read_audit(lake).num_rows == 0 and read_run_history(lake).num_rows == 0
    assert not (lake.data_dir / "archive").exists()


def test_bad_policy_file_fails_the_run_with_what_to_fix(lake, tmp_path):
    bad = tmp_path / "retention.yaml"
    bad.write_text("version: 1\npolicies:\n  - {name: raw, table: bronze/events, keep: -1d}\n")

    result = _materialize(lake, policy_file=str(bad))

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert "policy raw, keep: keep must be at least 1 day (got -1 days)" in message
    assert _events(lake).num_rows == 6 * 8


def test_job_and_schedule_select_only_the_retention_asset():
    assert retention_daily.job_name == "retention_job" == retention_job.name
    assert retention_daily.cron_schedule == "15 5 * * *"
    assert retention_daily.default_status == dg.DefaultScheduleStatus.RUNNING
    assert retention_daily in build_schedules(True) and retention_daily in build_schedules(False)
    assets = [*BRONZE_ASSETS, *MAINTENANCE_ASSETS, retention_report]
    key = retention_report.key
    assert retention_job.selection.resolve(assets) == {key}
    # `pulse materialize` / the nightly rebuild never delete data as a side effect.
    default = DEFAULT_SELECTION.resolve(assets)
    assert key not in default and {a.key for a in BRONZE_ASSETS} <= default


def test_a_partition_that_cannot_be_archived_fails_the_run_after_the_others(
    lake, tmp_path, monkeypatch
):
    from core.settings import get_settings

    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the archive folder should be")
    monkeypatch.setenv("PULSE_ARCHIVE_URI", str(blocker))
    get_settings.cache_clear()
    settings = get_settings()

    # As of 2027-02-10 the days before 2026-01-06 are past 400 days (raw_events: their archive
    # fails); the API telemetry (90 days, not archived) and the quarantine go as usual.
    result = _materialize(settings, now="2027-02-10")

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(
        "retention could not remove 5 partition(s): bronze/events event_date=2026-01-01: "
        "NotADirectoryError"
    )
    events = _events(settings)
    assert set(events.column("event").to_pylist()) == {"App Opened"}
    assert events.num_rows == 6 * 4  # no row of a failed partition was deleted unarchived
    deleted = read_audit(settings, action="retention_delete").column("target").to_pylist()
    assert sorted(deleted) == [f"bronze/events/event_date={d}" for d in DAYS] + [
        "bronze/quarantine/received_date=2026-01-01"
    ]
    assert read_audit(settings, action="retention_archive").num_rows == 0
