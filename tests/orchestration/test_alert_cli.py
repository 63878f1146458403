"""``pulse alerts list|ack|resolve|history|validate`` through click's CliRunner on a real metadata
database; history shows every state change and the time to acknowledge."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from click.testing import CliRunner

from core.metadata import engine_for
from orchestration.alerting.rules import load_rules
from orchestration.alerting.store import Occurrence, history, record_event, record_occurrence
from pulse.cli import main


def _occurrence(target: str, key: str, since: dt.datetime) -> Occurrence:
    return Occurrence(
        rule="stale-assets",
        target=target,
        severity="error",
        source="freshness",
        message=f"{target} is stale: last materialized 26.5 h ago (allowed: 26.0 h)",
        since=since,
        key=key,
        asset_key=target,
        channels=("slack",),
    )


@pytest.fixture
def raised(pulse_settings):
    """Two alerts: one raised 7 minutes ago and repeated once, one raised 2 minutes ago."""
    engine = engine_for(pulse_settings)
    now = dt.datetime.now(dt.UTC)
    first, _ = record_occurrence(
        engine, _occurrence("exec_daily_kpis", "k1", now), now - dt.timedelta(minutes=7)
    )
    record_occurrence(
        engine, _occurrence("exec_daily_kpis", "k2", now), now - dt.timedelta(minutes=5)
    )
    record_event(engine, first, "notified", now - dt.timedelta(minutes=6), channel="slack")
    second, _ = record_occurrence(
        engine, _occurrence("dim_users", "k3", now), now - dt.timedelta(minutes=2)
    )
    return engine, first, second


def test_list_ack_resolve_and_history_with_time_to_acknowledge(raised):
    engine, first, second = raised
    cli = CliRunner()

    listed = cli.invoke(main, ["alerts", "list"])
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.output.splitlines() if re.match(r"^\d+\s", line)]
    assert [int(r.split()[0]) for r in rows] == [second, first]
    assert re.search(
        rf"^{first}\s+error\s+open\s+stale-assets / exec_daily_kpis\s+2\s", listed.output, re.M
    )

    acked = cli.invoke(main, ["alerts", "ack", str(first), "--by", "alice", "--note", "on it"])
    assert acked.exit_code == 0, acked.output
    assert re.search(rf"acknowledged alert #{first} \(stale-assets\) after 7m0\ds", acked.output)
    assert cli.invoke(main, ["alerts", "list"]).output.count("stale-assets /") == 1
    assert str(first) in cli.invoke(main, ["alerts", "list", "--status", "acknowledged"]).output

    again = cli.invoke(main, ["alerts", "ack", str(first)])
    assert again.exit_code == 1 and f"alert #{first} is already acknowledged" in again.output
    missing = cli.invoke(main, ["alerts", "resolve", "999"])
    assert missing.exit_code == 1 and "no alert #999" in missing.output

    resolved = cli.invoke(main, ["alerts", "resolve", str(first), "--by", "bob"])
    assert resolved.exit_code == 0 and f"resolved alert #{first}" in resolved.output
    assert cli.invoke(main, ["alerts", "ack", str(first)]).exit_code == 1  # resolved is final

    one = cli.invoke(main, ["alerts", "history", str(first)])
    assert one.exit_code == 0, one.output
    events = re.findall(r"^\s+\S+ \S+\s+(\w+)(?: (\w+))?\s+by (\w+)", one.output, re.M)
    assert events == [
        ("raised", "", "pulse"),
        ("notified", "slack", "pulse"),
        ("repeated", "", "pulse"),
        ("acknowledged", "", "alice"),
        ("resolved", "", "bob"),
    ]
    assert "on it" in one.output
    assert re.search(r"x2; time to acknowledge 7m0\ds", one.output)
    assert [e.event for e in history(engine, first)][-2:] == ["acknowledged", "resolved"]

    overview = cli.invoke(main, ["alerts", "history"])
    assert overview.exit_code == 0, overview.output
    assert re.search(rf"^{first}\s+error\s+resolved\s+.*\s7m0\ds\s+alice$", overview.output, re.M)
    assert re.search(rf"^{second}\s+error\s+open\s+.*\s-\s+-$", overview.output, re.M)
    assert re.search(r"time to acknowledge: median 7m0\ds over 1 acknowledged", overview.output)


def test_validate_reports_rule_errors_and_accepts_the_default(pulse_settings, tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - {name: x, source: {kind: check}, channels: [pagerduty]}\n")
    cli = CliRunner()
    result = cli.invoke(main, ["alerts", "validate", "--rules", str(bad), "--no-definitions"])
    assert result.exit_code == 1
    assert "unknown channel 'pagerduty'" in result.output
    ok = cli.invoke(main, ["alerts", "validate", "--no-definitions"])
    packaged = len(load_rules().rules)
    assert ok.exit_code == 0 and f"{packaged} rule(s) valid" in ok.output
    assert cli.invoke(main, ["alerts", "list"]).output.strip() == "no open alerts"
