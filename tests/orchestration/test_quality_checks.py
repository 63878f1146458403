"""The layer GX checks in Dagster: a failing error-level suite fails its blocking check and skips
``gold_publication``; a warn-level failure is reported and publication goes on; every run appends
its expectation results to ``system/quality_results`` and rebuilds the GX Data Docs.

Two small marts (``dim_users``, ``fct_sessions``) are written into a real DuckDB warehouse by real
assets with the marts' keys, then checked by the production check factory and published by the
production publication asset."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.checks.marts import _suites as mart_suites
from orchestration.checks.suites import build_suite_check, docs_index, read_warehouse_tables
from orchestration.resources import PulseResource

DAY = dt.date(2026, 1, 10)
USERS = ("u1", "u2", "u3")


def _write(path: Path, ddl: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(ddl)


def mart_assets(sessions: list[tuple]) -> list[dg.AssetsDefinition]:
    """dim_users (3 users) and fct_sessions with ``sessions`` rows
    (session_id, user_id, duration_seconds, event_count)."""

    @dg.asset(key="dim_users")
    def dim_users(pulse: PulseResource) -> None:
        values = ", ".join(
            f"('{u}', date '{DAY}', 'organic', 'active', timestamp '{DAY} 09:00:00', 0.0, 1)"
            for u in USERS
        )
        _write(
            pulse.settings().warehouse_path,
            "create or replace table main.dim_users (user_id varchar, signup_date date, "
            "acquisition_channel varchar, lifecycle_stage varchar, signed_up_at timestamp, "
            f"total_revenue double, active_days integer); insert into main.dim_users values {values}",
        )

    @dg.asset(key="fct_sessions", deps=["dim_users"])
    def fct_sessions(pulse: PulseResource) -> None:
        values = ", ".join(
            f"('{sid}', '{uid}', '{uid}', timestamp '{DAY} 10:00:00', timestamp '{DAY} 10:05:00', "
            f"{secs}, {events}, date '{DAY}', 'ios')"
            for sid, uid, secs, events in sessions
        )
        _write(
            pulse.settings().warehouse_path,
            "create or replace table main.fct_sessions (session_id varchar, user_key varchar, "
            "user_id varchar, session_start timestamp, session_end timestamp, "
            "duration_seconds integer, event_count integer, session_date date, platform varchar); "
            f"insert into main.fct_sessions values {values}",
        )

    return [dim_users, fct_sessions]


@pytest.fixture
def graph_parts():
    from orchestration.assets.publish import build_gold_publication
    from orchestration.dbt_project import require_manifest
    from orchestration.warehouse import load_manifest, models_from_manifest

    models = models_from_manifest(load_manifest(require_manifest()))
    tables = {"dim_users": dg.AssetKey("dim_users"), "fct_sessions": dg.AssetKey("fct_sessions")}
    check = build_suite_check(
        "gx_marts", "the marts' suites", tables, mart_suites, read_warehouse_tables
    )
    publication = build_gold_publication(
        [models["dim_users"], models["fct_sessions"]],
        [c.asset_key for c in check.check_specs if c.blocking],
    )
    return check, publication


def _run(settings, assets, check, publication) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*assets, check, publication],
        resources={"pulse": PulseResource.from_settings(settings)},
        raise_on_error=False,
    )


def _evaluation(result, name):
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def test_error_suite_failure_skips_publication_warn_failure_does_not(pulse_settings, graph_parts):
    from lake import gold
    from quality.results import read_results

    settings = pulse_settings
    check, publication = graph_parts

    # A duplicated session_id and a session of a user missing from dim_users: error groups.
    broken = mart_assets([("s1", "u1", 60, 3), ("s1", "u2", 30, 2), ("s2", "u9", 10, 1)])
    result = _run(settings, broken, check, publication)
    assert not result.success
    failed = _evaluation(result, "gx_fct_sessions")
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert "[error] expect_column_values_to_be_unique(session_id)" in failed.description
    assert "expect_column_values_to_be_in_set(user_id)" in failed.description
    assert _evaluation(result, "gx_dim_users").passed
    published = [e.asset_key for e in result.get_asset_materialization_events() if e.asset_key]
    assert dg.AssetKey("gold_publication") not in published
    assert gold.current_id(settings) is None  # nothing published

    results = read_results(settings)
    mine = results.filter(results["run_id"] == result.run_id)
    assert set(mine["suite"]) == {"marts.dim_users_suite", "marts.fct_sessions_suite"}
    assert set(mine["asset"]) == {"dim_users", "fct_sessions"}
    unique_row = mine.filter(mine["expectation"] == "expect_column_values_to_be_unique(session_id)")
    assert unique_row["success"].to_list() == [False]
    assert unique_row["severity"].to_list() == ["error"]
    assert '"unexpected_count":2' in unique_row["observed_value"][0]
    assert Path(docs_index(settings)).exists()

    # Keys fine, but a zero-event session: a warn group fails, publication goes on.
    warned = mart_assets([("s1", "u1", 60, 3), ("s2", "u2", 30, 0)])
    result2 = _run(settings, warned, check, publication)
    assert result2.success
    warn = _evaluation(result2, "gx_fct_sessions")
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    assert "[warn] expect_column_values_to_be_between(event_count)" in warn.description
    assert gold.read_mart(settings, "fct_sessions").height == 2

    # Append-only: both runs' rows are there.
    assert set(read_results(settings)["run_id"]) == {result.run_id, result2.run_id}
    assert read_results(settings).height == 2 * mine.height
    pages = list((Path(docs_index(settings)).parent / "validations").rglob("*.html"))
    assert len([p for p in pages if "fct_sessions" in str(p)]) == 2  # one page per run


def test_a_duplicated_key_after_a_good_publication_leaves_it_current(pulse_settings, graph_parts):
    """Readers keep the last good publication: a run whose mart repeats a key publishes nothing,
    and CURRENT (and every mart read through it) stays on the previous run's publication."""
    from lake import gold

    settings = pulse_settings
    check, publication = graph_parts
    good = _run(
        settings, mart_assets([("s1", "u1", 60, 3), ("s2", "u2", 30, 2)]), check, publication
    )
    assert good.success
    published = gold.current(settings)

    duplicated = mart_assets([("s1", "u1", 60, 3), ("s2", "u2", 30, 2), ("s2", "u3", 10, 1)])
    result = _run(settings, duplicated, check, publication)
    assert not result.success
    failed = _evaluation(result, "gx_fct_sessions")
    assert failed.severity == dg.AssetCheckSeverity.ERROR
    assert "[error] expect_column_values_to_be_unique(session_id)" in failed.description
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey("gold_publication") not in materialized
    assert gold.current_id(settings) == published.id
    assert sorted(gold.read_mart(settings, "fct_sessions")["session_id"]) == ["s1", "s2"]
