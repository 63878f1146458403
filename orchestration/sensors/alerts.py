"""Sensors that turn problems into alerts and deliver them (``docs/alerting.md``).

Detection sensors only write to the alert store, following the rules file
(``PULSE_ALERT_RULES_PATH``, validated against these definitions on every tick):

- ``asset_check_failure_alerts``: failed asset-check evaluations (GX suites, dbt tests, blocking
  checks); a check whose newest evaluation passed resolves its alert.
- ``run_failure_alerts``: failed runs.
- ``freshness_alerts``: assets older than their freshness policy (or a rule's ``max_age``).
- ``metric_alerts``: thresholds and anomalies on published gold marts.

``alert_delivery`` sends what is due (first notifications, escalations, retries of failed
deliveries). A channel that is down never fails a sensor: the failure is in the alert history and
the next tick tries again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg
import sqlalchemy as sa
from dagster import RunFailureSensorContext, SensorEvaluationContext

from core.metadata import engine_for
from core.settings import Settings
from orchestration.alerting.dispatch import dispatch
from orchestration.alerting.rules import RuleSet, load_rules, validate_against
from orchestration.alerting.sources import (
    CheckFailure,
    ConditionScan,
    catalog_of,
    check_occurrence,
    check_rule_names,
    freshness_windows,
    new_failures,
    run_failure_occurrence,
    scan_checks,
    scan_freshness,
    scan_metrics,
)
from orchestration.alerting.store import now_utc, record_occurrence, resolve_cleared
from orchestration.resources import PulseResource

__all__ = ["SENSORS", "CheckFailure", "alert_on_failed_checks", "new_failures"]


def rules_for(settings: Settings, repository: dg.RepositoryDefinition | None = None) -> RuleSet:
    """The rules file of ``settings``, checked against ``repository`` when there is one."""
    rules = load_rules(settings.alert_rules_path)
    if repository is not None:
        validate_against(rules, catalog_of(repository))
    return rules


def alert_on_failed_checks(
    instance: dg.DagsterInstance,
    engine: sa.Engine,
    check_keys: Sequence[dg.AssetCheckKey],
    cursor: int = 0,
    rules: RuleSet | None = None,
    now: dt.datetime | None = None,
) -> tuple[list[int], int]:
    """Record every failed check evaluation newer than ``cursor`` under its rule (grouped per
    rule and check) and resolve the alerts of checks that pass again; (alert ids, new cursor)."""
    rules = rules if rules is not None else load_rules()
    now = now or now_utc()
    scan = scan_checks(instance, check_keys)
    fresh, next_cursor = new_failures(scan.failures, cursor)
    ids = []
    for failure in fresh:
        recorded = record_occurrence(engine, check_occurrence(rules, failure, now), now)
        if recorded is not None:
            ids.append(recorded[0])
    for rule in check_rule_names(rules):
        resolve_cleared(engine, rule, scan.passing, now, note="the check passed again")
    return ids, next_cursor


def apply_condition_scan(engine: sa.Engine, scan: ConditionScan, now: dt.datetime) -> list[int]:
    """Record a condition scan's occurrences and resolve its cleared targets; new/grown ids."""
    ids = []
    for occurrence in scan.occurrences:
        recorded = record_occurrence(engine, occurrence, now)
        if recorded is not None:
            ids.append(recorded[0])
    for rule, targets in scan.cleared.items():
        resolve_cleared(engine, rule, targets, now)
    return ids


@dg.sensor(
    name="asset_check_failure_alerts",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Raises (or groups into) an alert for every failed asset check, per alert rule.",
)
def asset_check_failure_alerts(
    context: SensorEvaluationContext, pulse: PulseResource
) -> dg.SkipReason | dg.SensorResult:
    repository = context.repository_def
    if repository is None:
        return dg.SkipReason("no repository to read asset checks from")
    settings = pulse.settings()
    check_keys = sorted(repository.asset_graph.asset_check_keys, key=str)
    ids, cursor = alert_on_failed_checks(
        context.instance,
        engine_for(settings),
        check_keys,
        int(context.cursor or 0),
        rules=rules_for(settings, repository),
    )
    if not ids:
        return dg.SensorResult(cursor=str(cursor), skip_reason="no new failed checks")
    context.log.info(f"recorded {len(ids)} failed check evaluation(s) in alert(s) {ids}")
    return dg.SensorResult(cursor=str(cursor))


def _root_cause(error) -> str:
    """The innermost error's message (Dagster wraps the user's exception in its own)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip()


@dg.run_failure_sensor(
    name="run_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Raises (or groups into) an alert when a run fails, per alert rule.",
)
def run_failure_alerts(context: RunFailureSensorContext, pulse: PulseResource) -> None:
    settings = pulse.settings()
    run = context.dagster_run
    now = now_utc()
    # The run's failure message only names the failed steps; their errors say what went wrong.
    steps = [
        f"{e.step_key}: {_root_cause(e.event_specific_data.error)[:300]}"
        for e in context.get_step_failure_events()
        if e.event_specific_data is not None and e.event_specific_data.error is not None
    ]
    error = "; ".join([context.failure_event.message or "run failed", *steps])
    occurrence = run_failure_occurrence(
        rules_for(settings, context.repository_def), run.run_id, run.job_name, error, now
    )
    record_occurrence(engine_for(settings), occurrence, now)


@dg.sensor(
    name="freshness_alerts",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts on assets materialized longer ago than their freshness policy allows.",
)
def freshness_alerts(
    context: SensorEvaluationContext, pulse: PulseResource
) -> dg.SkipReason | dg.SensorResult:
    repository = context.repository_def
    if repository is None:
        return dg.SkipReason("no repository to read freshness policies from")
    settings = pulse.settings()
    now = now_utc()
    scan = scan_freshness(
        context.instance, rules_for(settings, repository), freshness_windows(repository), now
    )
    for error in scan.errors:
        context.log.error(error)
    ids = apply_condition_scan(engine_for(settings), scan, now)
    return dg.SkipReason(f"stale: {len(scan.occurrences)}; alerts touched: {ids or 'none'}")


@dg.sensor(
    name="metric_alerts",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts on metric thresholds and anomalies read from the published gold marts.",
)
def metric_alerts(context: SensorEvaluationContext, pulse: PulseResource) -> dg.SkipReason:
    settings = pulse.settings()
    now = now_utc()
    scan = scan_metrics(settings, rules_for(settings, context.repository_def), now)
    for error in scan.errors:
        context.log.warning(error)
    ids = apply_condition_scan(engine_for(settings), scan, now)
    problems = f"; {'; '.join(scan.errors)}" if scan.errors else ""
    return dg.SkipReason(
        f"breaches: {len(scan.occurrences)}; alerts touched: {ids or 'none'}{problems}"
    )


@dg.sensor(
    name="alert_delivery",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Delivers open alerts to their channels, escalates unacknowledged ones and "
    "retries failed deliveries.",
)
def alert_delivery(context: SensorEvaluationContext, pulse: PulseResource) -> dg.SkipReason:
    settings = pulse.settings()
    report = dispatch(
        engine_for(settings), load_rules(settings.alert_rules_path), settings, now_utc()
    )
    for alert_id, channel, error in report.failed:
        context.log.error(f"alert #{alert_id} to {channel}: {error} (retried next tick)")
    return dg.SkipReason(
        f"notified {len(report.notified)}, escalated {len(report.escalated)}, "
        f"failed {len(report.failed)}"
    )


SENSORS = [
    asset_check_failure_alerts,
    run_failure_alerts,
    freshness_alerts,
    metric_alerts,
    alert_delivery,
]
