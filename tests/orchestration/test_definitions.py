"""The Dagster definitions load from the prepared manifest, and the asset graph has the expected
shape (a snapshot of keys, groups, lineage, checks, jobs, schedules and sensors)."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration import dbt_project
from orchestration.assets.dbt import PulseDbtTranslator, build_dbt_assets, dbt_group
from orchestration.materialize import _bare_to_key_syntax
from pulse.settings import Settings


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    dbt_project.prepare_manifest(Settings(data_dir=tmp_path_factory.mktemp("data")))
    from orchestration.definitions import defs

    return defs


def test_asset_graph_lineage_groups_and_kinds(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "bronze/events",
        "bronze/quarantine",
        "stg_events",
        "fct_sessions",
        "dim_users",
        "fct_user_daily",
        "exec_daily_kpis",
        "churn_model",
        "drift_report",
    } <= keys

    def parents(key: str) -> set[str]:
        return {
            p.to_user_string() for p in graph.get(dg.AssetKey.from_user_string(key)).parent_keys
        }

    def node(key: str):
        return graph.get(dg.AssetKey.from_user_string(key))

    assert "bronze/events" in parents("stg_events")
    assert "stg_events" in parents("fct_user_daily") | parents("fct_sessions")
    assert {"fct_user_daily", "dim_users"} <= parents("churn_model")
    assert "fct_user_daily" in parents("drift_report")
    assert node("bronze/events").is_observable
    assert node("bronze/events").group_name == "ingest"
    assert node("stg_events").group_name == "staging"
    assert {node(k).group_name for k in ("fct_user_daily", "dim_users", "exec_daily_kpis")} == {
        "marts"
    }
    assert node("churn_model").group_name == node("drift_report").group_name == "ml"
    assert {"dbt", "duckdb"} <= set(node("exec_daily_kpis").kinds)
    assert "delta" in node("bronze/events").kinds
    assert "lightgbm" in node("churn_model").kinds
    assert "evidently" in node("drift_report").kinds


def test_checks_jobs_schedules_and_sensors(defs):
    graph = defs.resolve_asset_graph()
    gx = dg.AssetCheckKey(dg.AssetKey("exec_daily_kpis"), "gx_exec_daily_kpis")
    assert gx in graph.asset_check_keys
    assert graph.get_check_spec(gx).blocking
    # dbt tests arrive as checks too
    assert any(k.name.startswith("unique_exec_daily_kpis") for k in graph.asset_check_keys)
    assert {j.name for j in defs.resolve_all_job_defs()} >= {
        "pulse_full_refresh",
        "observe_bronze",
        "gx_checks",
    }
    daily = defs.resolve_schedule_def("daily_full_refresh")
    assert daily.cron_schedule == "0 3 * * *"
    assert daily.job_name == "pulse_full_refresh"
    assert defs.resolve_schedule_def("observe_bronze_quarter_hourly").job_name == "observe_bronze"
    for name in ("asset_check_failure_alerts", "run_failure_alerts"):
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert isinstance(defs.executor, dg.ExecutorDefinition)
    assert defs.executor.name == "in_process"


def test_missing_manifest_says_how_to_prepare_it(tmp_path, monkeypatch):
    monkeypatch.setattr(dbt_project, "manifest_path", lambda: tmp_path / "manifest.json")
    with pytest.raises(dbt_project.ManifestMissingError, match=r"make install.*pulse prepare"):
        build_dbt_assets(dbt_project.pulse_dbt_project())


def test_manifest_staleness(tmp_path, defs):
    assert not dbt_project.manifest_is_stale()
    assert dbt_project.manifest_is_stale(tmp_path / "nope.json")


def test_translator_maps_lake_sources_to_bronze_and_groups_by_folder():
    manifest = {
        "sources": {
            "source.pulse.lake.events": {
                "unique_id": "source.pulse.lake.events",
                "resource_type": "source",
                "source_name": "lake",
                "name": "events",
                "fqn": ["pulse", "staging", "lake", "events"],
                "config": {},
                "meta": {},
                "tags": [],
            }
        },
        "nodes": {},
        "metadata": {"adapter_type": "duckdb"},
    }
    spec = PulseDbtTranslator().get_asset_spec(manifest, "source.pulse.lake.events", None)
    assert spec.key == dg.AssetKey(["bronze", "events"])
    assert dbt_group({"fqn": ["pulse", "staging", "stg_events"]}) == "staging"
    assert dbt_group({"fqn": ["pulse", "marts", "core", "dim_users"]}) == "marts"
    assert dbt_group({"fqn": ["pulse", "intermediate", "int_x"]}) == "intermediate"


def test_selection_shorthand():
    assert _bare_to_key_syntax("exec_daily_kpis+") == "key:exec_daily_kpis+"
    assert _bare_to_key_syntax("+churn_model") == "+key:churn_model"
