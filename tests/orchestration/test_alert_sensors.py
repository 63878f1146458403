"""The alert sensors evaluated for real (``build_sensor_context`` on an in-process Dagster instance):
failed checks, failed runs, stale assets and mart metrics become grouped alerts per rule, resolve
when the problem clears, and the delivery sensor sends them without crashing on a dead channel."""

from __future__ import annotations

import datetime as dt
import time

import dagster as dg
import pyarrow as pa
import pytest
from alert_receivers import free_port, http_receiver  # noqa: F401 (fixture)

from core.metadata import engine_for
from core.settings import get_settings
from lake import gold
from orchestration.alerting.messages import build_message
from orchestration.alerting.sources import freshness_windows, scan_freshness
from orchestration.alerting.store import get_alert, history, list_views
from orchestration.resources import PulseResource
from orchestration.sensors.alerts import (
    alert_delivery,
    apply_condition_scan,
    asset_check_failure_alerts,
    freshness_alerts,
    metric_alerts,
    rules_for,
    run_failure_alerts,
)

CHECK_PASSES = {"value": False}

RULES = """
defaults: {owner: data-platform}
rules:
  - name: kpis-check
    source: {kind: check, asset: kpis, check: kpis_non_negative}
    channels: [slack]
  - name: job-failed
    source: {kind: run_failure, jobs: [doomed]}
  - name: stale
    source: {kind: freshness}
  - name: raw-stale
    source: {kind: freshness, assets: [raw_feed], max_age: 1s}
  - name: dau-drop
    source: {kind: metric, mart: daily_kpis, column: dau, time_column: day, window: 30d,
             group_by: platform, condition: anomaly, direction: down}
  - name: low-revenue
    source: {kind: metric, mart: daily_kpis, column: revenue, aggregate: sum, time_column: day,
             window: 7d, condition: "<", threshold: 1000}
    severity: error
"""


@dg.asset(
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=dt.timedelta(hours=2), warn_window=dt.timedelta(hours=1)
    )
)
def kpis() -> int:
    return 1


@dg.asset
def raw_feed() -> int:
    return 1


@dg.asset
def daily_kpis() -> int:
    return 1


@dg.asset_check(asset=kpis)
def kpis_non_negative() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=CHECK_PASSES["value"],
        severity=dg.AssetCheckSeverity.WARN,
        description="3 days with dau < 0",
    )


@dg.op
def explode() -> None:
    raise RuntimeError("disk on fire")


@dg.job
def doomed() -> None:
    explode()


@pytest.fixture
def alert_env(pulse_settings, tmp_path, monkeypatch, http_receiver):  # noqa: F811
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    monkeypatch.setenv("PULSE_ALERT_RULES_PATH", str(rules))
    monkeypatch.setenv("PULSE_ALERT_SLACK_WEBHOOK_URL", http_receiver.url("/slack/T1/secret"))
    monkeypatch.setenv("PULSE_DAGSTER_URL", "http://dagster.test:3000")
    get_settings.cache_clear()
    settings = get_settings()
    http_receiver.requests.clear()
    with dg.DagsterInstance.ephemeral() as instance:
        yield settings, instance
    get_settings.cache_clear()


DEFS_KWARGS = dict(
    assets=[kpis, raw_feed, daily_kpis], asset_checks=[kpis_non_negative], jobs=[doomed]
)


def _context(settings, instance, cursor=None):
    resources = {"pulse": PulseResource.from_settings(settings)}
    defs = dg.Definitions(**DEFS_KWARGS, resources=resources)
    return dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=resources
    )


def test_failed_checks_group_per_rule_deliver_and_resolve_when_the_check_passes(
    alert_env,
    http_receiver,  # noqa: F811
):
    settings, instance = alert_env
    engine = engine_for(settings)
    CHECK_PASSES["value"] = False
    runs = [dg.materialize([kpis, kpis_non_negative], instance=instance) for _ in range(2)]

    result = asset_check_failure_alerts(_context(settings, instance))
    [view] = list_views(engine)
    assert (view.rule, view.target, view.occurrences) == ("kpis-check", "kpis:kpis_non_negative", 2)
    assert view.alert.severity == "warning"  # the check's own severity (the rule sets none)
    assert view.alert.dagster_run_id == runs[1].run_id  # the newest failing run
    assert view.owner == "data-platform"
    # the cursor moves past both evaluations; re-reading from 0 counts nothing twice
    asset_check_failure_alerts(_context(settings, instance, cursor=result.cursor))
    asset_check_failure_alerts(_context(settings, instance, cursor="0"))
    assert get_alert(engine, view.id).occurrences == 2

    delivery = alert_delivery(_context(settings, instance))
    assert "notified 1" in delivery.skip_message
    [slack] = http_receiver.posted_to("/slack/T1/secret")
    assert "kpis-check: check kpis_non_negative on asset kpis (x2)" in slack["text"]
    assert "http://dagster.test:3000/assets/kpis" in slack["blocks"][1]["text"]["text"]
    assert "3 days with dau < 0" in slack["blocks"][1]["text"]["text"]

    CHECK_PASSES["value"] = True
    dg.materialize([kpis, kpis_non_negative], instance=instance)
    asset_check_failure_alerts(_context(settings, instance, cursor=result.cursor))
    assert get_alert(engine, view.id).alert.status == "resolved"
    assert history(engine, view.id)[-1].detail == "the check passed again"


def test_failed_runs_of_one_job_group_into_one_alert(alert_env):
    settings, instance = alert_env
    for _ in range(2):
        run = doomed.execute_in_process(instance=instance, raise_on_error=False)
        [record] = instance.fetch_run_status_changes(
            dg.DagsterEventType.RUN_FAILURE, limit=1
        ).records
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts",
            dagster_event=record.event_log_entry.dagster_event,
            dagster_instance=instance,
            dagster_run=run.dagster_run,
            resources={"pulse": PulseResource.from_settings(settings)},
        ).for_run_failure()
        run_failure_alerts(context)
        run_failure_alerts(context)  # evaluated twice for one run: still one occurrence
    [view] = list_views(engine_for(settings))
    assert (view.rule, view.target, view.occurrences) == ("job-failed", "doomed", 2)
    assert view.alert.dagster_run_id is not None and "disk on fire" in view.alert.message


def test_stale_assets_warn_then_fail_then_resolve_when_rebuilt(alert_env):
    settings, instance = alert_env
    engine = engine_for(settings)
    dg.materialize([kpis, raw_feed], instance=instance)
    built = dt.datetime.fromtimestamp(
        instance.get_latest_materialization_event(dg.AssetKey("kpis")).timestamp, dt.UTC
    )
    context = _context(settings, instance)
    rules = rules_for(settings, context.repository_def)
    windows = freshness_windows(context.repository_def)
    assert set(windows) == {"kpis"}

    for minutes in (59, 61, 90, 121):  # fresh, warn, warn again (same episode), fail
        now = built + dt.timedelta(minutes=minutes)
        apply_condition_scan(engine, scan_freshness(instance, rules, windows, now), now)
    [view] = [v for v in list_views(engine) if v.rule == "stale"]
    assert view.target == "kpis" and view.alert.severity == "error"
    assert view.occurrences == 2  # the warning, then the failure
    assert view.since == built + dt.timedelta(hours=1)
    assert "kpis is stale" in view.alert.message and "allowed: 2.0 h" in view.alert.message

    time.sleep(1.1)  # raw_feed's rule allows 1 s; the sensor runs on the wall clock
    freshness_alerts(_context(settings, instance))
    assert get_alert(engine, view.id).alert.status == "resolved"  # kpis is fresh again
    [raw] = list_views(engine, status="open")
    assert (raw.rule, raw.target, raw.alert.severity) == ("raw-stale", "raw_feed", "error")


def _kpis(days: int, android_last: int, revenue: float) -> pa.Table:
    start = dt.date(2026, 2, 1)
    rows = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        last = i == days - 1
        rows.append({"day": day, "platform": "ios", "dau": 100 + i % 3, "revenue": revenue})
        rows.append(
            {
                "day": day,
                "platform": "android",
                "dau": android_last if last else 80 + i % 4,
                "revenue": revenue,
            }
        )
    return pa.Table.from_pylist(rows)


def test_metric_rules_read_the_published_mart_and_resolve_on_a_healthy_publication(alert_env):
    settings, instance = alert_env
    engine = engine_for(settings)
    assert "no metric evaluated" in metric_alerts(_context(settings, instance)).skip_message
    gold.publish(settings, {"daily_kpis": _kpis(20, android_last=12, revenue=50.0)})

    metric_alerts(_context(settings, instance))
    metric_alerts(_context(settings, instance))  # same publication: nothing new
    views = {v.target: v for v in list_views(engine)}
    assert set(views) == {"daily_kpis.dau[platform=android]", "daily_kpis.revenue"}
    drop = views["daily_kpis.dau[platform=android]"]
    assert (drop.rule, drop.alert.severity, drop.occurrences) == ("dau-drop", "warning", 1)
    assert "12 on 2026-02-20 vs a median of 81" in drop.alert.message
    revenue = views["daily_kpis.revenue"]
    assert revenue.alert.severity == "error"
    assert "sum over 7d revenue = 700 (alert when < 1,000)" in revenue.alert.message

    gold.publish(settings, {"daily_kpis": _kpis(20, android_last=12, revenue=50.0)})
    metric_alerts(_context(settings, instance))
    assert get_alert(engine, drop.id).occurrences == 2  # a new publication, still breaching
    message = build_message(
        get_alert(engine, drop.id), settings.dagster_base_url, dt.datetime.now(dt.UTC)
    )
    assert message.where == "metric daily_kpis.dau[platform=android] of mart daily_kpis"
    assert message.link == "http://dagster.test:3000/assets/daily_kpis"

    gold.publish(settings, {"daily_kpis": _kpis(20, android_last=81, revenue=500.0)})
    metric_alerts(_context(settings, instance))
    assert {v.alert.status for v in list_views(engine)} == {"resolved"}


def test_the_delivery_sensor_survives_a_dead_channel_and_records_it(alert_env, monkeypatch):
    settings, instance = alert_env
    monkeypatch.setenv("PULSE_ALERT_SLACK_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/x")
    get_settings.cache_clear()
    settings = get_settings()
    CHECK_PASSES["value"] = False
    dg.materialize([kpis, kpis_non_negative], instance=instance)
    asset_check_failure_alerts(_context(settings, instance))
    for _ in range(2):
        result = alert_delivery(_context(settings, instance))
        assert "failed 1" in result.skip_message
    [view] = list_views(engine_for(settings))
    failures = [e for e in history(engine_for(settings), view.id) if e.event == "delivery_failed"]
    assert len(failures) == 2 and "ConnectError" in failures[0].detail
