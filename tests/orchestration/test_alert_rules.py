"""Alert rules files: what validates, and the messages that say what to fix when one does not."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestration.alerting.rules import (
    AlertRulesError,
    Catalog,
    format_duration,
    load_rules,
    parse_duration,
    parse_rules,
    validate_against,
)

GOOD = """
defaults:
  channels: [team-slack]
  escalate_after: 30m
  escalate_to: [oncall-mail]
  owner: data-platform
channels:
  team-slack: {type: slack}
  oncall-mail: {type: email, to: [oncall@example.com], from: pulse@example.com}
  pager: {type: webhook, url_env: PAGER_URL}
rules:
  - name: kpi-suite
    source: {kind: check, asset: exec_daily_kpis, check: gx_exec_daily_kpis}
    severity: critical
    escalate_after: 5m
    escalate_to: [pager, oncall-mail]
  - name: any-check
    source: {kind: check}
  - name: nightly-failed
    source: {kind: run_failure, jobs: [pulse_full_refresh]}
    channels: [email]
  - name: stale
    source: {kind: freshness, assets: [exec_daily_kpis]}
  - name: dau-drop
    source: {kind: metric, mart: exec_daily_kpis, column: dau, time_column: kpi_date,
             window: 28d, condition: anomaly, direction: down}
    severity: warning
  - name: refunds-high
    source: {kind: metric, mart: exec_daily_kpis, column: refunds, aggregate: sum,
             time_column: kpi_date, window: 1d, condition: ">", threshold: 500}
"""

CATALOG = Catalog(
    assets=frozenset({"exec_daily_kpis", "dim_users", "bronze/events"}),
    checks=frozenset({("exec_daily_kpis", "gx_exec_daily_kpis"), ("dim_users", "unique_id")}),
    jobs=frozenset({"pulse_full_refresh", "pulse_incremental"}),
    fresh_assets=frozenset({"exec_daily_kpis"}),
)


def _load(tmp_path, text: str):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_rules(path)


def test_a_complete_rules_file_loads_with_defaults_applied(tmp_path):
    rules = _load(tmp_path, GOOD)
    validate_against(rules, CATALOG)
    by_name = {r.name: r for r in rules.rules}
    suite, any_check, nightly = (
        by_name["kpi-suite"],
        by_name["any-check"],
        by_name["nightly-failed"],
    )
    assert rules.escalate_after(suite) == dt.timedelta(minutes=5)
    assert rules.escalate_to(suite) == ["pager", "oncall-mail"]
    assert rules.channels_of(suite) == ["team-slack"]  # from defaults
    assert rules.escalate_after(any_check) == dt.timedelta(minutes=30)
    assert rules.channels_of(nightly) == ["email"]
    assert rules.owner_of(nightly) == "data-platform"
    assert rules.channel("oncall-mail").sender == "pulse@example.com"
    assert rules.channel("email").type == "email"  # built in
    assert by_name["dau-drop"].source.window == dt.timedelta(days=28)


def test_the_packaged_default_rules_match_the_real_definitions():
    from orchestration.alerting.sources import catalog_of
    from orchestration.definitions import defs

    rules = load_rules()
    assert {"check", "run_failure", "freshness", "metric"} == {r.source.kind for r in rules.rules}
    validate_against(rules, catalog_of(defs.get_repository_def()))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("1.5h", 5400)],
)
def test_durations(value, seconds):
    assert parse_duration(value).total_seconds() == seconds
    assert parse_duration(format_duration(parse_duration(value))) == parse_duration(value)


@pytest.mark.parametrize("value", ["30", "thirty minutes", "5 parsecs", "0m", "", "-5m"])
def test_bad_durations_say_how_to_write_one(value):
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(value)


def _rule(**overrides) -> dict:
    return {"name": "r1", "source": {"kind": "check"}, **overrides}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"rules": [_rule(channels=["pagerduty"])]},
            "rule 'r1': channels: unknown channel 'pagerduty' (known: email, slack, webhook",
        ),
        ({"rules": [_rule(severity="sev1")]}, "rule 'r1' (rules[0]): severity: Input should be"),
        (
            {"rules": [_rule(escalate_after="half an hour", escalate_to=["email"])]},
            "rule 'r1' (rules[0]): escalate_after: bad duration 'half an hour'",
        ),
        ({"rules": [_rule(source={"kind": "vibes"})]}, "unknown source kind: use one of check"),
        ({"rules": [_rule(source={"asset": "x"})]}, "source needs a kind"),
        ({"rules": [_rule(sevrity="error")]}, "rule 'r1' (rules[0]): sevrity: unknown field"),
        ({"rules": [_rule(), _rule()]}, "rule 'r1': the name is used twice"),
        ({"rules": [_rule(escalate_to=["email"])]}, "escalation needs both escalate_after"),
        ({"rules": [_rule(name="Has Spaces")]}, "name: String should match pattern"),
        (
            {
                "rules": [
                    _rule(source={"kind": "metric", "mart": "m", "column": "c", "condition": ">"})
                ]
            },
            "condition '>' needs a threshold",
        ),
        (
            {
                "rules": [
                    _rule(
                        source={
                            "kind": "metric",
                            "mart": "m",
                            "column": "c",
                            "condition": "anomaly",
                            "aggregate": "sum",
                        }
                    )
                ]
            },
            "condition anomaly needs time_column",
        ),
        (
            {"channels": {"ops": {"type": "slack", "to": ["a@example.com"]}}},
            "channels.ops: to only apply to email channels, not slack",
        ),
        (
            {"channels": {"ops": {"type": "email", "to": ["not-an-address"]}}},
            "to must list email addresses",
        ),
        ({"channels": {"ops": {"type": "pigeon"}}}, "channels.ops.type: Input should be"),
    ],
)
def test_invalid_rules_fail_with_a_message_that_says_what_to_fix(data, expected):
    with pytest.raises(AlertRulesError) as info:
        parse_rules(data, "rules.yaml")
    assert expected in str(info.value)
    assert str(info.value).startswith("invalid alert rules in rules.yaml")


def test_every_problem_is_listed_at_once():
    with pytest.raises(AlertRulesError) as info:
        parse_rules({"rules": [_rule(severity="bad"), _rule(name="r2", escalate_after="soon")]})
    assert "rule 'r1' (rules[0]): severity" in str(info.value)
    assert "rule 'r2' (rules[1]): escalate_after: bad duration" in str(info.value)


def test_names_unknown_to_the_definitions_are_reported_with_suggestions():
    rules = parse_rules(
        {
            "rules": [
                {"name": "a", "source": {"kind": "check", "asset": "exec_daily_kpi"}},
                {
                    "name": "b",
                    "source": {"kind": "check", "asset": "exec_daily_kpis", "check": "gx_kpis"},
                },
                {"name": "c", "source": {"kind": "check", "check": "no_such_check"}},
                {"name": "d", "source": {"kind": "run_failure", "jobs": ["pulse_full"]}},
                {"name": "e", "source": {"kind": "freshness", "assets": ["dim_users"]}},
                {
                    "name": "f",
                    "source": {
                        "kind": "metric",
                        "mart": "exec_kpis",
                        "column": "dau",
                        "aggregate": "max",
                        "condition": "<",
                        "threshold": 1,
                    },
                },
            ]
        },
        "rules.yaml",
    )
    with pytest.raises(AlertRulesError) as info:
        validate_against(rules, CATALOG)
    text = str(info.value)
    assert (
        "rule 'a': no asset 'exec_daily_kpi' in the Dagster definitions (did you mean exec_daily_kpis?)"
        in text
    )
    assert (
        "rule 'b': no check 'gx_kpis' on asset exec_daily_kpis in the Dagster definitions "
        "(its checks: gx_exec_daily_kpis)"
    ) in text
    assert "rule 'c': no check 'no_such_check'" in text
    assert "rule 'd': no job 'pulse_full'" in text
    assert "rule 'e': asset 'dim_users' has no freshness policy: set max_age" in text
    assert "rule 'f': no mart 'exec_kpis'" in text


def test_a_missing_or_broken_file_says_so(tmp_path):
    with pytest.raises(AlertRulesError, match="does not exist: fix PULSE_ALERT_RULES_PATH"):
        load_rules(tmp_path / "nope.yaml")
    with pytest.raises(AlertRulesError, match="is not valid YAML"):
        _load(tmp_path, "rules: [ {name: x")
    with pytest.raises(AlertRulesError, match="expected a mapping"):
        _load(tmp_path, "- just a list")
