"""Metric rules on platform tables (system/...): the packaged self-monitoring rules fire and clear."""

from __future__ import annotations

import datetime as dt

import pytest

from core.settings import Settings
from orchestration.alerting.rules import AlertRulesError, load_rules, parse_rules
from orchestration.alerting.sources import scan_metrics
from orchestration.monitoring import append

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def _probes(ok: bool, lag: float, minutes_ago: int) -> list[dict]:
    at = NOW - dt.timedelta(minutes=minutes_ago)
    return [
        {"probed_at": at, "service": "collector", "url": "http://x/ready", "ok": ok,
         "flush_lag_seconds": lag},
        {"probed_at": at, "service": "dagster", "url": "http://x/server_info", "ok": True},
    ]  # fmt: skip


@pytest.fixture
def rules():
    """The packaged rules file, with only its rules on the service probes kept."""
    packaged = load_rules()
    probes = [
        r for r in packaged.rules if getattr(r.source, "table", None) == "system/service_probes"
    ]
    return packaged.model_copy(update={"rules": probes})


def _fired(settings, rules) -> dict[str, str]:
    scan = scan_metrics(settings, rules, NOW)
    assert not scan.errors, scan.errors
    return {o.rule: o.message for o in scan.occurrences}


def test_collector_down_and_flush_lag_fire_from_the_probes_and_clear_when_healthy(tmp_path, rules):
    settings = Settings(data_dir=tmp_path)
    assert {r.name for r in rules.rules} >= {"collector-not-ready", "collector-flush-lag"}
    for minutes_ago in (4, 3, 2, 1):
        append(
            settings,
            "service_probes",
            _probes(ok=minutes_ago > 3, lag=95.0, minutes_ago=minutes_ago),
        )
    fired = _fired(settings, rules)
    assert "system/service_probes.ok" in fired["collector-not-ready"]
    assert "system/service_probes.flush_lag_seconds" in fired["collector-flush-lag"]

    for minutes_ago in (0,):
        append(settings, "service_probes", _probes(ok=True, lag=1.0, minutes_ago=minutes_ago))
    for _ in range(4):  # five healthy minutes: the 5-minute mean is back above 0.5
        append(settings, "service_probes", _probes(ok=True, lag=1.0, minutes_ago=0))
    fired = _fired(settings, rules)
    assert "collector-not-ready" not in fired
    assert "collector-flush-lag" in fired  # the 95 s lag is still inside its 10-minute window


def test_a_missing_platform_table_is_reported_not_raised(tmp_path, rules):
    scan = scan_metrics(Settings(data_dir=tmp_path), rules, NOW)
    assert not scan.occurrences
    assert any("does not exist yet" in e for e in scan.errors)


def test_a_metric_names_exactly_one_dataset():
    base = {"kind": "metric", "column": "v", "condition": ">", "threshold": 1}
    for source in ({**base}, {**base, "mart": "m", "table": "system/t"}):
        with pytest.raises(AlertRulesError, match="exactly one of mart"):
            parse_rules({"rules": [{"name": "r", "source": source, "severity": "warning"}]})
    with pytest.raises(AlertRulesError, match="system"):
        parse_rules({"rules": [{"name": "r", "source": {**base, "table": "bronze/events"}}]})


def test_a_quarantine_spike_in_the_quality_scores_fires_the_packaged_rule(tmp_path):
    import polars as pl
    from deltalake import write_deltalake

    from quality.scores import SCORES_SCHEMA

    settings = Settings(data_dir=tmp_path)
    day = NOW.date()
    rows = [
        {"date": day - dt.timedelta(days=d), "table": "bronze.events", "rows": 1000,
         "completeness": 1.0, "validity": validity, "uniqueness": 1.0, "timeliness": 1.0,
         "consistency": 1.0, "score": 0.9, "target": 0.95, "meets_target": validity > 0.95}
        for d, validity in ((3, 0.99), (2, 0.99), (1, 0.98), (0, 0.91))
    ]  # fmt: skip
    path = settings.table_path("system", "quality_scores")
    path.mkdir(parents=True)
    write_deltalake(str(path), pl.DataFrame(rows, schema=SCORES_SCHEMA).to_arrow())
    packaged = load_rules()
    rules = packaged.model_copy(
        update={"rules": [r for r in packaged.rules if r.name == "quarantine-ratio-high"]}
    )
    fired = _fired(settings, rules)
    assert "system/quality_scores.validity" in fired["quarantine-ratio-high"]
    assert "0.91" in fired["quarantine-ratio-high"]
