"""The Dagster definitions load from the prepared manifest, and the asset graph has the expected
shape (a snapshot of keys, groups, lineage, checks, jobs, schedules and sensors)."""

from __future__ import annotations

import dagster as dg
import pytest

from core.settings import Settings
from orchestration import dbt_project
from orchestration.assets.dbt import PulseDbtTranslator, build_dbt_assets, dbt_group
from orchestration.materialize import _bare_to_key_syntax


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
    assert {"fct_user_daily", "dim_users", "gold_publication"} <= parents("churn_model")
    assert {"fct_user_daily", "gold_publication"} <= parents("drift_report")
    assert {"exec_daily_kpis", "dim_users", "fct_user_daily"} <= parents("gold_publication")
    # staging is not gold, but its blocking GX check gates publication (a direct dep: Dagster's
    # blocking checks only hold back assets that depend on the checked asset directly)
    assert "stg_events" in parents("gold_publication")
    assert node("gold_publication").group_name == "publish"
    assert "parquet" in node("gold_publication").kinds
    assert node("fct_user_daily").partitions_def is not None  # tagged daily
    assert node("dim_users").partitions_def is None
    assert node("dim_users").freshness_policy is not None
    assert node("bronze_maintenance").group_name == "ingest"
    assert node("bronze/events").is_observable
    assert node("bronze/events").group_name == "ingest"
    assert node("stg_events").group_name == "staging"
    assert node("fct_user_daily").group_name == node("dim_users").group_name == "marts_core"
    assert node("exec_daily_kpis").group_name == "marts_executive"
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
        "pulse_incremental",
        "observe_bronze",
        "gx_checks",
        "bronze_maintenance_job",
    }
    daily = defs.resolve_schedule_def("daily_full_refresh")
    assert daily.cron_schedule == "0 3 * * *"
    assert daily.job_name == "pulse_full_refresh"
    assert defs.resolve_schedule_def("hourly_incremental").job_name == "pulse_incremental"
    assert defs.resolve_schedule_def("observe_bronze_quarter_hourly").job_name == "observe_bronze"
    assert defs.resolve_sensor_def("bronze_events_sensor").job_name == "pulse_incremental"
    for name in ("asset_check_failure_alerts", "run_failure_alerts", "bronze_events_sensor"):
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
    assert dbt_group({"fqn": ["pulse", "marts", "core", "dim_users"]}) == "marts_core"
    assert dbt_group({"fqn": ["pulse", "marts", "revenue", "rev_mrr_daily"]}) == "marts_revenue"
    assert dbt_group({"fqn": ["pulse", "intermediate", "int_x"]}) == "intermediate"
    assert dbt_group({"fqn": ["pulse", "semantic", "metricflow_time_spine"]}) == "semantic"


def test_partition_window_becomes_inclusive_dbt_vars():
    import datetime as dt

    from orchestration.partitions import clamp_range, daily_partitions, partitioned_dbt_vars

    window = dg.TimeWindow(
        daily_partitions.time_window_for_partition_key("2026-01-01").start,
        daily_partitions.time_window_for_partition_key("2026-01-03").end,
    )
    assert partitioned_dbt_vars(window) == {"min_date": "2026-01-01", "max_date": "2026-01-03"}
    one = daily_partitions.time_window_for_partition_key("2026-02-10")
    assert partitioned_dbt_vars(one) == {"min_date": "2026-02-10", "max_date": "2026-02-10"}
    today = dt.date(2026, 5, 1)
    assert clamp_range(dt.date(2020, 1, 1), dt.date(2026, 6, 1), today) == (
        dt.date(2024, 1, 1),
        today,
    )
    assert clamp_range(dt.date(2027, 1, 1), dt.date(2027, 2, 1), today) is None


def test_partition_window_reaches_dbt_as_environment_not_vars():
    # --vars would make dbt re-parse the project on every partition run.
    from orchestration.partitions import daily_partitions, dbt_build_args, partition_window_env

    window = dg.TimeWindow(
        daily_partitions.time_window_for_partition_key("2026-01-01").start,
        daily_partitions.time_window_for_partition_key("2026-01-03").end,
    )
    assert partition_window_env(window) == {
        "PULSE_DBT_MIN_DATE": "2026-01-01",
        "PULSE_DBT_MAX_DATE": "2026-01-03",
    }
    # An unpartitioned run clears any window inherited from the parent's environment.
    assert partition_window_env(None) == {"PULSE_DBT_MIN_DATE": "", "PULSE_DBT_MAX_DATE": ""}
    assert "--vars" not in dbt_build_args()


def test_subprocess_environment_exports_then_restores(tmp_path, monkeypatch):
    import os

    from core.settings import Settings
    from orchestration.resources import subprocess_environment

    monkeypatch.setenv("PULSE_DBT_MIN_DATE", "2020-01-01")
    monkeypatch.delenv("PULSE_DBT_MAX_DATE", raising=False)
    settings = Settings(data_dir=tmp_path)
    window = {"PULSE_DBT_MIN_DATE": "2026-02-10", "PULSE_DBT_MAX_DATE": "2026-02-10"}
    with subprocess_environment(settings, window):
        assert os.environ["PULSE_DBT_MIN_DATE"] == "2026-02-10"
        assert os.environ["PULSE_DBT_MAX_DATE"] == "2026-02-10"
        assert os.environ["PULSE_WAREHOUSE_PATH"] == str(settings.warehouse_path)
    assert os.environ["PULSE_DBT_MIN_DATE"] == "2020-01-01"
    assert "PULSE_DBT_MAX_DATE" not in os.environ


def test_dbt_stages_never_point_backwards():
    from orchestration.assets.dbt import dbt_stages

    manifest = {
        "nodes": {
            f"model.p.{n}": {
                "resource_type": "model",
                "name": n,
                "schema": "main",
                "tags": ["daily"] if n.startswith("d") else [],
                "depends_on": {"nodes": [f"model.p.{p}" for p in parents]},
            }
            for n, parents in {
                "stg": [],
                "d_int": ["stg"],
                "users": ["stg", "d_int"],
                "d_ai": ["users"],
                "mart": ["d_int"],
            }.items()
        }
    }
    # a relationships test of `mart` reads `users`: mart must be built after users
    manifest["nodes"]["test.p.rel"] = {
        "resource_type": "test",
        "attached_node": "model.p.mart",
        "depends_on": {"nodes": ["model.p.mart", "model.p.users"]},
    }
    manifest["nodes"]["test.p.rel"]["name"] = "rel"
    assert dbt_stages(manifest) == [
        (False, ["stg"], []),
        (True, ["d_int"], []),
        (False, ["mart", "users"], ["rel"]),
        (True, ["d_ai"], []),
    ]


def test_selection_shorthand():
    assert _bare_to_key_syntax("exec_daily_kpis+") == "key:exec_daily_kpis+"
    assert _bare_to_key_syntax("+churn_model") == "+key:churn_model"


def test_schedules_ask_for_the_right_partitions():
    import datetime as dt

    from orchestration.schedules import daily_full_refresh, hourly_incremental

    at = dt.datetime(2026, 3, 5, 14, 10, tzinfo=dt.UTC)
    hourly = hourly_incremental(dg.build_schedule_context(scheduled_execution_time=at))
    assert hourly.partition_key == "2026-03-05"
    daily = daily_full_refresh(dg.build_schedule_context(scheduled_execution_time=at))
    assert daily.tags["dagster/asset_partition_range_start"] == "2026-03-04"
    assert daily.tags["dagster/asset_partition_range_end"] == "2026-03-05"
