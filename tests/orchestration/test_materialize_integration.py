"""End to end on a simulated 60-day world: bulk-load bronze, `materialize_all`, then break the
published KPI mart and watch the GX check fail and the sensor raise exactly one alert."""

from __future__ import annotations

import polars as pl
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def loaded_world(pulse_settings):
    from lake.ingest import bulk_load
    from lake.simulator import SimConfig, generate_world
    from orchestration.dbt_project import prepare_manifest

    prepare_manifest(pulse_settings)
    world = generate_world(SimConfig(users=200, days=60, seed=11))
    report = bulk_load(world.messages, pulse_settings, source_id="sim")
    assert report.accepted > 1000
    return pulse_settings


def test_materialize_all_then_failed_check_raises_one_alert(loaded_world):
    import dagster as dg

    from orchestration.alerts import list_alerts
    from orchestration.definitions import build_defs
    from orchestration.materialize import instance_for, materialize_all
    from orchestration.resources import PulseResource
    from orchestration.sensors.alerts import asset_check_failure_alerts
    from pulse.metadata import engine_for

    settings = loaded_world
    assert materialize_all(settings) is True

    for mart in ("stg_events", "dim_users", "fct_user_daily", "exec_daily_kpis", "churn_scores"):
        if mart != "stg_events":  # staging is a view, not published
            assert (settings.gold_dir / f"{mart}.parquet").exists(), mart
    assert (settings.reports_dir / "drift_report.html").stat().st_size > 10_000
    assert (settings.models_dir / "churn" / "churn_model.txt").exists()

    gx_key = dg.AssetCheckKey(dg.AssetKey("exec_daily_kpis"), "gx_exec_daily_kpis")
    with instance_for(settings) as instance:
        churn = instance.get_latest_materialization_event(dg.AssetKey("churn_model"))
        auc = churn.asset_materialization.metadata["auc"].value
        assert 0.6 < auc <= 1.0
        kpis_meta = instance.get_latest_materialization_event(
            dg.AssetKey("exec_daily_kpis")
        ).asset_materialization.metadata
        assert kpis_meta["dagster/row_count"].value == 60
        observed = instance.fetch_observations(dg.AssetKey(["bronze", "events"]), limit=1)
        assert observed.records[0].asset_observation.metadata["dagster/row_count"].value > 1000
        [record] = instance.event_log_storage.get_asset_check_execution_history(gx_key, limit=5)
        assert record.evaluation.passed
    assert list_alerts(engine_for(settings)) == []

    # Break the published mart: a duplicated day and a negative DAU.
    path = settings.gold_dir / "exec_daily_kpis.parquet"
    kpis = pl.read_parquet(path)
    broken = pl.concat([kpis, kpis.head(1)]).with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(-5).otherwise(pl.col("dau")).alias("dau")
    )
    broken.write_parquet(path)

    defs = build_defs(settings)
    with instance_for(settings) as instance:
        result = defs.resolve_job_def("gx_checks").execute_in_process(
            instance=instance, raise_on_error=False
        )
        assert not result.success  # a blocking check that fails fails its step and the run
        [evaluation] = result.get_asset_check_evaluations()
        assert not evaluation.passed
        assert "expect_column_values_to_be_unique(kpi_date)" in evaluation.description

        context = dg.build_sensor_context(
            instance=instance,
            definitions=defs,
            resources={"pulse": PulseResource.from_settings(settings)},
        )
        first = asset_check_failure_alerts(context)
        assert int(first.cursor) > 0
        context2 = dg.build_sensor_context(
            instance=instance,
            definitions=defs,
            cursor=first.cursor,
            resources={"pulse": PulseResource.from_settings(settings)},
        )
        second = asset_check_failure_alerts(context2)
        assert second.cursor == first.cursor

    alerts = list_alerts(engine_for(settings))
    assert [(a.source, a.asset_key, a.check_name, a.status) for a in alerts] == [
        ("asset_check", "exec_daily_kpis", "gx_exec_daily_kpis", "open")
    ]
    assert "kpi_date" in alerts[0].message
    assert alerts[0].dagster_run_id == result.run_id
