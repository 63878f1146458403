"""A failed run becomes one alert through the run-failure sensor."""

from __future__ import annotations

import dagster as dg


@dg.op
def explode() -> None:
    raise RuntimeError("disk on fire")


@dg.job
def doomed() -> None:
    explode()


def test_failed_run_raises_one_alert(pulse_settings):
    from core.metadata import engine_for
    from orchestration.alerts import list_alerts
    from orchestration.materialize import instance_for
    from orchestration.resources import PulseResource
    from orchestration.sensors.alerts import run_failure_alerts

    with instance_for(pulse_settings) as instance:
        result = doomed.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        [record] = instance.fetch_run_status_changes(
            dg.DagsterEventType.RUN_FAILURE, limit=1
        ).records
        failure_event = record.event_log_entry.dagster_event
        for _ in range(2):  # evaluated twice (e.g. a daemon restart): still one alert
            context = dg.build_run_status_sensor_context(
                sensor_name="run_failure_alerts",
                dagster_event=failure_event,
                dagster_instance=instance,
                dagster_run=result.dagster_run,
                resources={"pulse": PulseResource.from_settings(pulse_settings)},
            ).for_run_failure()
            run_failure_alerts(context)

    [alert] = list_alerts(engine_for(pulse_settings))
    assert (alert.source, alert.severity, alert.dagster_run_id) == (
        "run_failure",
        "error",
        result.run_id,
    )
    assert "doomed" in alert.message
