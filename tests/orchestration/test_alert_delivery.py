"""Grouping, delivery and escalation against real receivers: an SMTP server (aiosmtpd) and an HTTP
server playing Slack and a generic webhook, with the clock moved by the test."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from alert_receivers import free_port, http_receiver, smtp_server  # noqa: F401 (fixtures)

from core.metadata import engine_for
from core.settings import Settings
from orchestration.alerting.dispatch import dispatch
from orchestration.alerting.rules import parse_rules
from orchestration.alerting.store import (
    Occurrence,
    acknowledge,
    get_alert,
    history,
    record_occurrence,
)

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
SLACK_PATH = "/services/T0001/B0002/slack-secret-token"
HOOK_PATH = "/hooks/generic-secret-token"
DAGSTER = "http://dagster.internal:3000"


@pytest.fixture
def settings(tmp_path, smtp_server, http_receiver) -> Settings:  # noqa: F811
    return Settings(
        data_dir=tmp_path / "data",
        dagster_url=DAGSTER,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        alert_email_to="oncall@example.com, lead@example.com",
        alert_slack_webhook_url=http_receiver.url(SLACK_PATH),
        alert_webhook_url=http_receiver.url(HOOK_PATH),
    )


@pytest.fixture(autouse=True)
def _empty_receivers(smtp_server, http_receiver):  # noqa: F811
    smtp_server.messages.clear()
    http_receiver.requests.clear()
    http_receiver.status.clear()


RULES = parse_rules(
    {
        "defaults": {"owner": "data-platform"},
        "channels": {"pager": {"type": "webhook", "url_env": "PAGER_HOOK_URL"}},
        "rules": [
            {
                "name": "kpi-suite",
                "source": {"kind": "check", "asset": "exec_daily_kpis"},
                "channels": ["slack", "webhook"],
                "escalate_after": "15m",
                "escalate_to": ["email"],
                "owner": "analytics",
            },
            {"name": "paged", "source": {"kind": "run_failure"}, "channels": ["pager"]},
        ],
    },
    "test-rules.yaml",
)


def _check_failure(record_id: int, severity: str = "error") -> Occurrence:
    return Occurrence(
        rule="kpi-suite",
        target="exec_daily_kpis:gx_exec_daily_kpis",
        severity=severity,
        source="asset_check",
        message="check gx_exec_daily_kpis failed on exec_daily_kpis: dau > known users on "
        "2026-03-01",
        since=T0 - dt.timedelta(minutes=3),
        key=f"check:exec_daily_kpis:gx_exec_daily_kpis:{record_id}",
        asset_key="exec_daily_kpis",
        check_name="gx_exec_daily_kpis",
        run_id=f"run-{record_id:04d}",
        owner="analytics",
        channels=("slack", "webhook"),
        escalate_to=("email",),
        escalate_after=dt.timedelta(minutes=15),
    )


def test_repeats_group_into_one_alert_and_one_message_per_channel(
    settings,
    smtp_server,  # noqa: F811
    http_receiver,  # noqa: F811
):
    engine = engine_for(settings)
    first = record_occurrence(engine, _check_failure(1, "warning"), T0)
    assert first is not None and first[1] == "raised"
    alert_id = first[0]
    for minute, record_id in [(1, 2), (2, 3)]:
        assert record_occurrence(
            engine, _check_failure(record_id), T0 + dt.timedelta(minutes=minute)
        ) == (alert_id, "repeated")
    # the same evaluation read again (a sensor that lost its cursor) counts once
    assert record_occurrence(engine, _check_failure(3), T0 + dt.timedelta(minutes=3)) is None

    view = get_alert(engine, alert_id)
    assert view.occurrences == 3
    assert view.last_seen == T0 + dt.timedelta(minutes=2)
    assert view.alert.severity == "error"  # a worse repeat raises the severity
    assert view.since == T0 - dt.timedelta(minutes=3)

    report = dispatch(engine, RULES, settings, T0 + dt.timedelta(minutes=4))
    assert sorted(report.notified) == [(alert_id, "slack"), (alert_id, "webhook")]
    assert report.failed == [] and report.escalated == []
    dispatch(engine, RULES, settings, T0 + dt.timedelta(minutes=5))  # nothing new: no resend

    [slack] = http_receiver.posted_to(SLACK_PATH)
    assert (
        "[Pulse ERROR] kpi-suite: check gx_exec_daily_kpis on asset exec_daily_kpis (x3)"
        in (slack["text"])
    )
    fields = slack["blocks"][1]["text"]["text"]
    assert "*What:* check gx_exec_daily_kpis failed on exec_daily_kpis: dau > known users" in fields
    assert "*Since:* 2026-03-02 07:57:00 UTC (7 min ago)" in fields
    assert "*Severity:* ERROR" in fields
    assert "*Owner:* analytics" in fields
    assert f"<{DAGSTER}/assets/exec_daily_kpis|" in fields
    assert f"<{DAGSTER}/runs/run-0003|" in fields  # the newest failing run
    assert f"pulse alerts ack {alert_id}" in fields

    [hook] = http_receiver.posted_to(HOOK_PATH)
    assert hook["alert_id"] == alert_id and hook["escalation"] is False
    assert hook["severity"] == "error" and hook["occurrences"] == 3
    assert hook["where"] == "check gx_exec_daily_kpis on asset exec_daily_kpis"
    assert hook["since"] == "2026-03-02T07:57:00+00:00"
    assert hook["last_seen"] == "2026-03-02T08:02:00+00:00"
    assert hook["link"] == f"{DAGSTER}/assets/exec_daily_kpis"
    assert hook["rule"] == "kpi-suite" and hook["owner"] == "analytics"
    assert smtp_server.messages == []  # email is the escalation channel only

    events = [(e.event, e.channel) for e in history(engine, alert_id)]
    assert events[:3] == [("raised", None), ("repeated", None), ("repeated", None)]
    assert sorted(events[3:]) == [("notified", "slack"), ("notified", "webhook")]


def test_unacknowledged_alerts_escalate_once_after_the_delay_and_acknowledged_ones_do_not(
    settings,
    smtp_server,  # noqa: F811
    http_receiver,  # noqa: F811
):
    engine = engine_for(settings)
    ignored, _ = record_occurrence(engine, _check_failure(10), T0)
    handled, _ = record_occurrence(
        engine, Occurrence(**{**_check_failure(20).__dict__, "target": "other:check"}), T0
    )
    dispatch(engine, RULES, settings, T0 + dt.timedelta(minutes=1))
    acknowledge(engine, handled, "alice", T0 + dt.timedelta(minutes=6))
    assert get_alert(engine, handled).time_to_acknowledge == dt.timedelta(minutes=6)

    assert not dispatch(engine, RULES, settings, T0 + dt.timedelta(minutes=14, seconds=59))
    assert smtp_server.messages == []
    report = dispatch(engine, RULES, settings, T0 + dt.timedelta(minutes=15))
    assert report.escalated == [(ignored, "email")]
    assert not dispatch(engine, RULES, settings, T0 + dt.timedelta(minutes=30))  # once only

    [mail] = smtp_server.messages
    assert mail.recipients == ["oncall@example.com", "lead@example.com"]
    assert mail.sender == "pulse-alerts@localhost"
    assert mail.subject.startswith("[Pulse ESCALATED ERROR] kpi-suite: check gx_exec_daily_kpis")
    assert f"Alert #{ignored} escalated: it has not been acknowledged." in mail.body
    assert "Where: check gx_exec_daily_kpis on asset exec_daily_kpis" in mail.body
    assert "Since: 2026-03-02 07:57:00 UTC (18 min ago)" in mail.body
    assert "Severity: ERROR" in mail.body
    assert f"Link: {DAGSTER}/assets/exec_daily_kpis" in mail.body
    assert f"Run: {DAGSTER}/runs/run-0010" in mail.body
    assert f"Acknowledge: pulse alerts ack {ignored}" in mail.body
    escalations = [e for e in history(engine, ignored) if e.event == "escalated"]
    assert [(e.channel, e.at) for e in escalations] == [("email", T0 + dt.timedelta(minutes=15))]
    assert not [e for e in history(engine, handled) if e.event == "escalated"]


def test_failed_deliveries_are_recorded_retried_and_never_leak_the_secret(
    settings,
    http_receiver,  # noqa: F811
    caplog,
):
    engine = engine_for(settings)
    occurrence = Occurrence(
        rule="paged",
        target="pulse_full_refresh",
        severity="critical",
        source="run_failure",
        message="run 1234abcd of job pulse_full_refresh failed: step dbt_marts failed",
        since=T0,
        key="run:1234abcd-0000",
        run_id="1234abcd-0000",
        channels=("pager",),
    )
    alert_id, _ = record_occurrence(engine, occurrence, T0)
    env = {"PAGER_HOOK_URL": http_receiver.url("/pager/very-secret-key")}
    http_receiver.status["/pager/very-secret-key"] = 500
    with caplog.at_level(logging.DEBUG, logger="pulse.alerts"):
        down = dispatch(engine, RULES, settings, T0 + dt.timedelta(minutes=1), env=env)
        assert down.failed and down.failed[0][:2] == (alert_id, "pager")
        unset = dispatch(engine, RULES, settings, T0 + dt.timedelta(minutes=2), env={})
        assert "environment variable PAGER_HOOK_URL is unset" in unset.failed[0][2]
        http_receiver.status.clear()  # the receiver is back
        up = dispatch(engine, RULES, settings, T0 + dt.timedelta(minutes=3), env=env)
    assert up.notified == [(alert_id, "pager")]
    [payload] = http_receiver.posted_to("/pager/very-secret-key")
    assert payload["link"] == f"{DAGSTER}/runs/1234abcd-0000"
    assert payload["where"] == "job pulse_full_refresh, run 1234abcd-0000"

    events = [(e.event, e.channel) for e in history(engine, alert_id)]
    assert events == [
        ("raised", None),
        ("delivery_failed", "pager"),
        ("delivery_failed", "pager"),
        ("notified", "pager"),
    ]
    details = " ".join(e.detail or "" for e in history(engine, alert_id))
    assert "HTTP 500" in details
    assert "very-secret-key" not in details and "very-secret-key" not in caplog.text


def test_an_unreachable_mail_server_is_a_recorded_failure_not_a_crash(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data", smtp_port=free_port(), alert_email_to="a@example.com"
    )
    rules = parse_rules({"rules": [{"name": "r", "source": {"kind": "check"}}]})
    engine = engine_for(settings)
    occ = Occurrence(
        rule="r",
        target="t",
        severity="info",
        source="asset_check",
        message="m",
        since=T0,
        channels=("email", "slack"),
    )
    alert_id, _ = record_occurrence(engine, occ, T0)
    report = dispatch(engine, rules, settings, T0)
    failures = {channel: error for _, channel, error in report.failed}
    assert f"SMTP 127.0.0.1:{settings.smtp_port}: ConnectionRefusedError" in failures["email"]
    assert "set PULSE_ALERT_SLACK_WEBHOOK_URL" in failures["slack"]
    assert [e.event for e in history(engine, alert_id)].count("delivery_failed") == 2
