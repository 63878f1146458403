"""Alert rows and the check-failure sensor's dedupe logic."""

from __future__ import annotations

import pytest

from core.metadata import engine_for
from orchestration.alerts import list_alerts, raise_alert, set_alert_status
from orchestration.sensors.alerts import CheckFailure, new_failures


def test_raise_alert_stores_an_open_row_and_logs(pulse_settings, caplog):
    engine = engine_for(pulse_settings)
    with caplog.at_level("WARNING", logger="pulse.alerts"):
        alert_id = raise_alert(
            engine,
            severity="error",
            source="asset_check",
            asset_key="exec_daily_kpis",
            check_name="gx_exec_daily_kpis",
            message="2 expectations failed",
            dagster_run_id="run-1",
            dedupe_key="check:exec_daily_kpis:gx_exec_daily_kpis:7",
        )
    assert alert_id is not None
    assert "ALERT ERROR asset_check [exec_daily_kpis/gx_exec_daily_kpis]" in caplog.text
    [alert] = list_alerts(engine)
    assert (alert.id, alert.status, alert.severity, alert.dagster_run_id) == (
        alert_id,
        "open",
        "error",
        "run-1",
    )
    assert alert.created_at is not None


def test_same_dedupe_key_is_stored_once(pulse_settings):
    engine = engine_for(pulse_settings)
    kwargs = dict(severity="warning", source="run_failure", message="boom", dedupe_key="run:abc")
    first = raise_alert(engine, **kwargs)
    assert raise_alert(engine, **kwargs) is None
    assert [a.id for a in list_alerts(engine)] == [first]
    # without a dedupe key every call is a new alert
    raise_alert(engine, severity="info", source="manual", message="a")
    raise_alert(engine, severity="info", source="manual", message="a")
    assert len(list_alerts(engine)) == 3


def test_status_changes_and_validation(pulse_settings):
    engine = engine_for(pulse_settings)
    alert_id = raise_alert(engine, severity="critical", source="manual", message="x")
    assert set_alert_status(engine, alert_id, "acknowledged")
    assert list_alerts(engine, status="acknowledged")[0].id == alert_id
    assert list_alerts(engine, status="open") == []
    assert not set_alert_status(engine, 9999, "resolved")
    with pytest.raises(ValueError, match="severity"):
        raise_alert(engine, severity="meh", source="manual", message="x")
    with pytest.raises(ValueError, match="status"):
        set_alert_status(engine, alert_id, "snoozed")


def _failure(record_id: int, check: str = "gx_exec_daily_kpis") -> CheckFailure:
    return CheckFailure(record_id, "exec_daily_kpis", check, f"run{record_id}", "error", "bad")


def test_sensor_dedupe_only_reports_failures_after_the_cursor():
    failures = [_failure(5), _failure(2, "unique_exec_daily_kpis_kpi_date"), _failure(9)]
    fresh, cursor = new_failures(failures, cursor=0)
    assert [f.record_id for f in fresh] == [2, 5, 9]  # oldest first
    assert cursor == 9
    again, cursor2 = new_failures(failures, cursor)
    assert again == [] and cursor2 == 9
    later, cursor3 = new_failures([*failures, _failure(12)], cursor)
    assert [f.record_id for f in later] == [12] and cursor3 == 12
    assert _failure(12).dedupe_key == "check:exec_daily_kpis:gx_exec_daily_kpis:12"
