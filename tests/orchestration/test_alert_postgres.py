"""The alert store and dispatch on PostgreSQL: the same code as SQLite, against the real server on
127.0.0.1 (its own database, dropped afterwards). Also: a metadata database created by an older
release (only the ``alerts`` table) gains the new tables and keeps its rows."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alert_receivers import http_receiver  # noqa: F401 (fixture)

from core.metadata import engine_for
from core.settings import Settings
from orchestration.alerting.dispatch import dispatch
from orchestration.alerting.rules import parse_rules
from orchestration.alerting.store import (
    Occurrence,
    acknowledge,
    get_alert,
    history,
    list_views,
    record_occurrence,
    resolve,
)

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _occurrence(key: str, severity: str = "warning") -> Occurrence:
    return Occurrence(
        rule="stale-assets",
        target="exec_daily_kpis",
        severity=severity,
        source="freshness",
        message="exec_daily_kpis is stale",
        since=T0 - dt.timedelta(hours=1),
        key=key,
        asset_key="exec_daily_kpis",
        channels=("webhook",),
        escalate_to=("slack",),
        escalate_after=dt.timedelta(minutes=10),
    )


def test_grouping_escalation_ack_and_history_on_postgresql(
    postgres_url,
    tmp_path,
    http_receiver,  # noqa: F811
):
    settings = Settings(
        data_dir=tmp_path,
        metadata_url=postgres_url,
        alert_webhook_url=http_receiver.url("/pg-hook"),
        alert_slack_webhook_url=http_receiver.url("/pg-slack"),
    )
    engine = engine_for(settings)
    assert engine.dialect.name == "postgresql"
    rules = parse_rules({"rules": [{"name": "stale-assets", "source": {"kind": "freshness"}}]})

    alert_id, _ = record_occurrence(engine, _occurrence("a"), T0)
    assert record_occurrence(engine, _occurrence("b", "error"), T0 + dt.timedelta(minutes=1)) == (
        alert_id,
        "repeated",
    )
    assert record_occurrence(engine, _occurrence("b"), T0 + dt.timedelta(minutes=2)) is None
    assert dispatch(engine, rules, settings, T0 + dt.timedelta(minutes=2)).notified == [
        (alert_id, "webhook")
    ]
    assert dispatch(engine, rules, settings, T0 + dt.timedelta(minutes=10)).escalated == [
        (alert_id, "slack")
    ]
    acknowledge(engine, alert_id, "alice", T0 + dt.timedelta(minutes=12))
    resolve(engine, alert_id, "alice", T0 + dt.timedelta(minutes=30))
    # after resolution the same rule and target open a new alert
    new_id, outcome = record_occurrence(engine, _occurrence("c"), T0 + dt.timedelta(hours=2))
    assert outcome == "raised" and new_id != alert_id

    view = get_alert(engine, alert_id)
    assert (view.occurrences, view.alert.severity, view.alert.status) == (2, "error", "resolved")
    assert view.time_to_acknowledge == dt.timedelta(minutes=12)
    assert view.acknowledged_by == "alice"
    assert view.since == T0 - dt.timedelta(hours=1)
    assert [(e.event, e.channel) for e in history(engine, alert_id)] == [
        ("raised", None),
        ("repeated", None),
        ("notified", "webhook"),
        ("escalated", "slack"),
        ("acknowledged", None),
        ("resolved", None),
    ]
    [hook] = http_receiver.posted_to("/pg-hook")
    assert hook["alert_id"] == alert_id and hook["occurrences"] == 2
    [slack] = http_receiver.posted_to("/pg-slack")
    assert slack["text"].startswith("[Pulse ESCALATED ERROR] stale-assets: asset exec_daily_kpis")
    engine.dispose()


def test_an_older_metadata_database_gains_the_new_tables_and_keeps_its_alerts(tmp_path):
    path = tmp_path / "old.db"
    old = sa.create_engine(f"sqlite:///{path}")
    with old.begin() as conn:  # the alerts table exactly as the first release created it
        conn.execute(
            sa.text(
                "CREATE TABLE alerts (id INTEGER PRIMARY KEY, created_at DATETIME NOT NULL, "
                "severity VARCHAR(16) NOT NULL, source VARCHAR(64) NOT NULL, asset_key "
                "VARCHAR(512), check_name VARCHAR(256), message TEXT NOT NULL, status "
                "VARCHAR(16) NOT NULL DEFAULT 'open', dagster_run_id VARCHAR(64), dedupe_key "
                "VARCHAR(512) UNIQUE, updated_at DATETIME)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO alerts (created_at, severity, source, message, status, dedupe_key) "
                "VALUES ('2026-01-05 10:00:00', 'error', 'run_failure', 'old failure', 'open', "
                "'run:old')"
            )
        )
    old.dispose()
    engine = engine_for(Settings(data_dir=tmp_path, metadata_url=f"sqlite:///{path}"))
    [legacy] = list_views(engine)
    assert (legacy.alert.message, legacy.rule, legacy.occurrences) == ("old failure", None, 1)
    acknowledge(engine, legacy.id, "carol", T0)
    assert get_alert(engine, legacy.id).acknowledged_by == "carol"
    alert_id, _ = record_occurrence(engine, _occurrence("new"), T0)
    assert get_alert(engine, alert_id).rule == "stale-assets"
