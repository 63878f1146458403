"""The metric catalogue: written by `dbt parse`, valid for MetricFlow, every metric documented and
labelled the same way, segments where the marts have them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analytics.catalogue import SEGMENTS
from analytics.semantic import DEFAULT_SEMANTIC_MANIFEST, REPO_DIR

SEMANTIC_DIR = REPO_DIR / "dbt_project" / "models" / "semantic"
METRICS_DOC = REPO_DIR / "docs" / "metrics.md"

EXECUTIVE = [
    "dau",
    "wau",
    "mau",
    "new_users",
    "net_revenue",
    "mrr",
    "subscriber_churn_rate",
    "week1_retention",
    "workouts_completed",
    "recommendation_acceptance_rate",
]
DASHBOARD_METRICS = [
    *EXECUTIVE,
    "sessions",
    "avg_session_length",
    "stickiness",
    "gross_revenue",
    "refunds",
    "subscription_revenue",
    "program_revenue",
    "arpu",
    "arppu",
    "program_views",
    "program_purchases",
    "program_conversion_rate",
    "platform_commission",
    "commission_rate",
]


def _yaml_metric_names() -> set[str]:
    names = set()
    for path in SEMANTIC_DIR.glob("*.yml"):
        for metric in yaml.safe_load(path.read_text()).get("metrics") or []:
            names.add(metric["name"])
    return names


def test_the_semantic_manifest_is_current_with_the_dbt_definitions():
    """`pulse prepare` (dbt parse) writes target/semantic_manifest.json; it must list exactly the
    metrics of dbt_project/models/semantic and be newer than those files."""
    import json

    assert DEFAULT_SEMANTIC_MANIFEST.exists(), "run `pulse prepare`"
    written = {m["name"] for m in json.loads(DEFAULT_SEMANTIC_MANIFEST.read_text())["metrics"]}
    assert written == _yaml_metric_names(), "stale semantic manifest: run `pulse prepare`"
    built = DEFAULT_SEMANTIC_MANIFEST.stat().st_mtime
    assert all(p.stat().st_mtime <= built for p in SEMANTIC_DIR.iterdir()), "run `pulse prepare`"


def test_metricflow_validations_pass(semantic):
    results = semantic.validate()
    assert not results.has_blocking_issues, [i.as_readable_str() for i in results.all_issues]
    # The only warnings: MetricFlow's note on dbt-core's legacy cumulative format.
    for issue in results.all_issues:
        assert "should not have both a measure and a metric" in issue.as_readable_str()


def test_every_metric_has_label_unit_format_direction_and_a_docs_entry(semantic):
    doc = METRICS_DOC.read_text()
    anchors = set(re.findall(r"^#{2,4} `?([a-z0-9_]+)`?\s*$", doc, re.MULTILINE))
    catalogue = semantic.catalogue()
    assert len(catalogue) >= 40
    for name, info in catalogue.items():
        assert info.label and info.description, name
        assert info.direction in ("up", "down", "neutral"), name
        assert info.format.format(1234.5), name
        assert info.docs == f"docs/metrics.md#{name}", name
        assert name in anchors, f"docs/metrics.md has no entry (#### {name}) for {name}"
        assert info.marts, name
    assert set(DASHBOARD_METRICS) <= set(catalogue)


def test_aggregations_over_a_period(semantic):
    cat = semantic.catalogue()
    assert cat["dau"].aggregation == "average"
    assert cat["wau"].aggregation == cat["mau"].aggregation == "last"
    assert cat["mrr"].aggregation == cat["paying_subscribers"].aggregation == "last"
    assert cat["net_revenue"].aggregation == "sum"
    assert cat["active_users"].aggregation == "count_distinct"
    for ratio in (
        "recommendation_acceptance_rate",
        "arpu",
        "arppu",
        "subscriber_churn_rate",
        "program_conversion_rate",
        "week1_retention",
        "avg_session_length",
        "commission_rate",
    ):
        assert cat[ratio].aggregation == "ratio", ratio
    assert cat["recommendation_acceptance_rate"].inputs == (
        "recommendations_accepted",
        "recommendations_shown",
    )
    assert cat["stickiness"].inputs == ("dau", "mau")
    assert cat["platform_commission"].time_grain == "month"


def test_segments_where_the_marts_have_them(semantic):
    cat = semantic.catalogue()
    for name in ("dau", "wau", "mau", "net_revenue", "new_users", "workouts_completed", "arpu"):
        assert set(cat[name].segments) == set(SEGMENTS), name
        assert cat[name].segments["country"] == "user__country"
    assert cat["sessions"].segments["platform"] == "user__platform"
    assert cat["recommendation_acceptance_rate"].segments == {
        "acquisition_channel": "recommendation__acquisition_channel",
        "plan": "recommendation__plan",
    }
    assert cat["mrr"].segments == {}  # rev_mrr_daily is not per user
    assert "revenue__stream" in cat["gross_revenue"].dimensions


def test_format_and_direction_helpers(semantic):
    cat = semantic.catalogue()
    assert cat["net_revenue"].format_value(1234.4) == "$1,234"
    assert cat["stickiness"].format_value(0.2512) == "25.1%"
    assert cat["dau"].format_value(None) == "—"
    assert cat["refunds"].is_better(-5.0) is True
    assert cat["net_revenue"].is_better(-5.0) is False


def test_compiled_sql_names_dbt_relations_and_quotes_filters(semantic):
    from analytics.filters import where_clause

    compiled = semantic.compile(
        ["net_revenue"], where=[where_clause("user__country", ["x' OR '1'='1"])]
    )
    assert compiled.relations == ('"pulse"."main"."dim_users"', '"pulse"."main"."fct_user_daily"')
    assert "'x'' OR ''1''=''1'" in compiled.sql
    braces = semantic.compile(["net_revenue"], where=[where_clause("user__plan", ["{{ x }}"])])
    assert "chr(123)" in braces.sql and "{{" not in braces.sql


def test_analytics_imports_only_settings_lake_and_libraries():
    code = (
        "import sys, analytics, analytics.query, analytics.live, analytics.querylog\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('orchestration', 'apps', 'quality', 'models_ml') or m == 'pulse.cli']\n"
        "assert not bad, bad\n"
        "assert 'metricflow' not in sys.modules, 'MetricFlow is imported lazily'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(REPO_DIR))


@pytest.mark.parametrize("name", ["dau", "net_revenue", "week1_retention"])
def test_metrics_md_entry_states_definition_aggregation_unit_direction(name):
    doc = METRICS_DOC.read_text()
    entry = doc.split(f"#### {name}\n", 1)[1].split("\n#### ", 1)[0]
    for word in ("aggregation", "unit", "direction"):
        assert word in entry.lower(), (name, word)


def test_metrics_md_catalogue_is_generated_from_dbt(semantic):
    from analytics.docs import METRICS_DOC, current_section, generated

    assert current_section(METRICS_DOC.read_text()) == generated(semantic), (
        "docs/metrics.md is stale: run `uv run python -m analytics.docs --write`"
    )
