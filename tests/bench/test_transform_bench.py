"""Smoke test of the transform benchmark's code path (bench/transform.py) on a tiny world: world
preparation, full and one-day incremental dbt builds, gold publication, the dashboard queries,
the bronze file count and the metric rows. Numbers are not checked (the benchmark is not a test)."""

from __future__ import annotations

from datetime import date

import pytest

from bench import transform

pytestmark = pytest.mark.integration


@pytest.fixture
def isolated_env(monkeypatch):
    from core.settings import get_settings

    monkeypatch.setenv("PULSE_DATA_DIR", "/nonexistent")  # measure_scale sets its own
    yield
    get_settings.cache_clear()


def test_transform_benchmark_runs_end_to_end_on_a_tiny_world(tmp_path, isolated_env):
    scale = transform.Scale("tiny", users=40, days=6, seed=5, end_date=date(2026, 3, 1))
    result = transform.measure_scale(
        tmp_path / "tiny", scale, query_runs=3, select="stg_events exec_daily_kpis"
    )
    assert result["world"]["accepted"] > 0
    assert result["full_run"]["failed"] == [] and result["incremental"]["failed"] == []
    assert (
        result["incremental_daily"]["failed"] == [] and result["incremental_daily"]["models"] == 2
    )
    assert set(result["load_average"]) == {"before", "after"}
    assert result["tests"]["failed"] == [] and result["tests"]["tests"] > 0
    assert result["full_run"]["models"] == 2
    assert "exec_daily_kpis" in result["published"]
    by_query = {q["query"]: q for q in result["queries"]}
    kpis = by_query["exec KPIs, last 28 days"]
    assert kpis["runs"] == 3 and 0 < kpis["p50_ms"] <= kpis["p95_ms"]
    assert result["bronze_files"]["live"] >= 6  # one file per event_date partition at least
    assert result["bronze_files_after_maintenance"]["live"] <= result["bronze_files"]["live"]

    rows = transform.metrics_for(result)
    assert all({"metric", "value", "unit"} <= set(row) for row in rows)
    assert any(row["metric"].startswith("[tiny] full dbt build") for row in rows)

    # A second measurement reuses the prepared world (no new simulation or load).
    marker = (tmp_path / "tiny" / "world.json").read_text()
    again = transform.prepare_world(tmp_path / "tiny", scale)
    assert (tmp_path / "tiny" / "world.json").read_text() == marker
    assert again == result["world"]
