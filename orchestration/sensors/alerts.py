"""Sensors that turn problems into alerts: failed asset checks and failed runs."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa
from dagster import RunFailureSensorContext, SensorEvaluationContext

from orchestration.alerts import raise_alert
from orchestration.resources import PulseResource
from pulse.metadata import engine_for


@dataclass(frozen=True)
class CheckFailure:
    """One failed asset-check evaluation, as read from the Dagster event log."""

    record_id: int  # the evaluation's storage id: increases with time
    asset_key: str
    check_name: str
    run_id: str
    severity: str  # warning | error
    description: str

    @property
    def dedupe_key(self) -> str:
        return f"check:{self.asset_key}:{self.check_name}:{self.record_id}"


def new_failures(failures: Iterable[CheckFailure], cursor: int) -> tuple[list[CheckFailure], int]:
    """Failures newer than ``cursor`` (oldest first) and the cursor to store next."""
    fresh = sorted((f for f in failures if f.record_id > cursor), key=lambda f: f.record_id)
    return fresh, max([cursor, *(f.record_id for f in fresh)])


def failed_check_evaluations(
    instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey], limit: int = 20
) -> list[CheckFailure]:
    """The latest failed evaluations of each check (newest ``limit`` per check)."""
    failures: list[CheckFailure] = []
    storage = instance.event_log_storage
    for key in check_keys:
        for record in storage.get_asset_check_execution_history(key, limit=limit):
            if record.status.value != "FAILED":  # PLANNED rows carry no evaluation yet
                continue
            evaluation = record.evaluation
            if evaluation is None or evaluation.passed:
                continue
            failures.append(
                CheckFailure(
                    record_id=record.id,
                    asset_key=key.asset_key.to_user_string(),
                    check_name=key.name,
                    run_id=record.run_id,
                    severity="warning"
                    if evaluation.severity == dg.AssetCheckSeverity.WARN
                    else "error",
                    description=evaluation.description or "",
                )
            )
    return failures


def alert_on_failed_checks(
    instance: dg.DagsterInstance,
    engine: sa.Engine,
    check_keys: Sequence[dg.AssetCheckKey],
    cursor: int = 0,
) -> tuple[list[int], int]:
    """Raise one alert per failed check evaluation newer than ``cursor``; (alert ids, new cursor)."""
    fresh, next_cursor = new_failures(failed_check_evaluations(instance, check_keys), cursor)
    ids = []
    for failure in fresh:
        alert_id = raise_alert(
            engine,
            severity=failure.severity,
            source="asset_check",
            asset_key=failure.asset_key,
            check_name=failure.check_name,
            dagster_run_id=failure.run_id,
            message=f"check {failure.check_name} failed on {failure.asset_key}: "
            f"{failure.description or 'no description'}",
            dedupe_key=failure.dedupe_key,
        )
        if alert_id is not None:
            ids.append(alert_id)
    return ids, next_cursor


@dg.sensor(
    name="asset_check_failure_alerts",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Raises an alert for every failed asset check (GX suites, dbt tests).",
)
def asset_check_failure_alerts(
    context: SensorEvaluationContext, pulse: PulseResource
) -> dg.SkipReason | dg.SensorResult:
    repository = context.repository_def
    if repository is None:
        return dg.SkipReason("no repository to read asset checks from")
    check_keys = sorted(repository.asset_graph.asset_check_keys, key=str)
    engine = engine_for(pulse.settings())
    ids, cursor = alert_on_failed_checks(
        context.instance, engine, check_keys, int(context.cursor or 0)
    )
    if not ids:
        return dg.SensorResult(cursor=str(cursor), skip_reason="no new failed checks")
    context.log.info(f"raised {len(ids)} alert(s): {ids}")
    return dg.SensorResult(cursor=str(cursor))


@dg.run_failure_sensor(
    name="run_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Raises an alert when any run fails.",
)
def run_failure_alerts(context: RunFailureSensorContext, pulse: PulseResource) -> None:
    run = context.dagster_run
    message = context.failure_event.message or "run failed"
    raise_alert(
        engine_for(pulse.settings()),
        severity="error",
        source="run_failure",
        dagster_run_id=run.run_id,
        message=f"run {run.run_id[:8]} of job {run.job_name} failed: {message}"[:2000],
        dedupe_key=f"run:{run.run_id}",
    )


SENSORS = [asset_check_failure_alerts, run_failure_alerts]
