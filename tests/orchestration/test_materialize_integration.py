"""End to end on the shared demo world (300 users x 45 days, materialized by `pulse demo`: dbt →
blocking checks → gold publication → ML): check what the first run left, then a second full run
while a reader thread reads the published marts in a loop (always one consistent publication,
never an error, never a DuckDB lock), then break the KPI mart in the warehouse and watch the GX
check fail and the sensor raise exactly one alert, while readers keep the last good publication.

The test works on a copy of the demo's data dir (fixture `loaded_world`, tests/orchestration/conftest.py;
the end-to-end suites read the original)."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

pytestmark = pytest.mark.integration

DEMO_DAYS = 45  # the shared demo world's days (tests/conftest.py)


class Reader(threading.Thread):
    """Reads two marts from one pinned publication in a loop; records what it saw."""

    def __init__(self, settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.reads = 0
        self.publications: set[str] = set()

    def run(self) -> None:
        from apps.streamlit.data import read_mart as dashboard_read
        from lake import gold

        while not self.stop.is_set():
            try:
                with gold.pinned(self.settings) as pub:
                    users = gold.read_mart(self.settings, "dim_users")
                    kpis = dashboard_read(self.settings, "exec_daily_kpis")  # DuckDB in-memory
                    assert users.height == pub.models["dim_users"], pub.id
                    assert kpis.height == pub.models["exec_daily_kpis"], pub.id
                    self.publications.add(pub.id)
                self.reads += 1
            except BaseException as exc:
                self.errors.append(exc)
            time.sleep(0.01)


def test_materialize_publish_read_during_a_run_then_failed_check_alerts(loaded_world):
    import dagster as dg

    from core.metadata import engine_for
    from lake import gold
    from orchestration.alerts import list_alerts
    from orchestration.definitions import build_defs
    from orchestration.materialize import instance_for, materialize_all
    from orchestration.resources import PulseResource
    from orchestration.sensors.alerts import asset_check_failure_alerts

    settings = loaded_world
    first = gold.current(settings)  # published by the demo's run
    assert {"dim_users", "fct_user_daily", "fct_sessions", "exec_daily_kpis"} <= set(first.models)
    assert "stg_events" not in first.models  # staging is not gold
    assert first.models["exec_daily_kpis"] == DEMO_DAYS
    assert first.bronze_versions["events"] >= 0
    assert (settings.gold_dir / "churn_scores.parquet").exists()
    assert (settings.reports_dir / "drift_report.html").stat().st_size > 10_000
    assert (settings.models_dir / "churn" / "churn_model.txt").exists()

    gx_key = dg.AssetCheckKey(dg.AssetKey("exec_daily_kpis"), "gx_exec_daily_kpis")
    with instance_for(settings) as instance:
        churn = instance.get_latest_materialization_event(dg.AssetKey("churn_model"))
        assert 0.6 < churn.asset_materialization.metadata["auc"].value <= 1.0
        kpis_meta = instance.get_latest_materialization_event(
            dg.AssetKey("exec_daily_kpis")
        ).asset_materialization.metadata
        assert kpis_meta["dagster/row_count"].value == DEMO_DAYS
        assert "kpi_date" in kpis_meta["preview"].value
        pub_meta = instance.get_latest_materialization_event(
            dg.AssetKey("gold_publication")
        ).asset_materialization.metadata
        assert pub_meta["publication_id"].value == first.id
        observed = instance.fetch_observations(dg.AssetKey(["bronze", "events"]), limit=1)
        assert observed.records[0].asset_observation.metadata["dagster/row_count"].value > 1000
        history = instance.event_log_storage.get_asset_check_execution_history(gx_key, limit=5)
        evaluated = [r.evaluation for r in history if hasattr(r.evaluation, "passed")]
        assert evaluated and all(e.passed for e in evaluated)
    assert list_alerts(engine_for(settings)) == []

    # A second full run while a dashboard-like reader reads in a loop.
    reader = Reader(settings)
    reader.start()
    started = time.monotonic()
    try:
        assert materialize_all(settings, definitions=build_defs) is True
    finally:
        reader.stop.set()
        reader.join(timeout=30)
    assert reader.errors == [], reader.errors[:3]
    assert reader.reads > 20
    second = gold.current(settings)
    assert second.id != first.id and second.models == first.models
    assert first.id in reader.publications  # it read across the flip
    # Every dbt step started from this data dir's own partial parse: none re-parsed the project.
    dbt_log = (settings.data_dir / "logs" / "materialize.log").read_text()
    assert dbt_log.count("Running with dbt") >= 5
    assert "Unable to do partial parsing" not in dbt_log
    print(f"second run {time.monotonic() - started:.1f}s; {reader.reads} consistent reads")

    # Break the KPI mart in the warehouse: a duplicated day and a negative DAU.
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("insert into main.exec_daily_kpis select * from main.exec_daily_kpis limit 1")
        con.execute(
            "update main.exec_daily_kpis set dau = -5 "
            "where kpi_date = (select min(kpi_date) from main.exec_daily_kpis)"
        )

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
        first_eval = asset_check_failure_alerts(context)
        assert int(first_eval.cursor) > 0
        context2 = dg.build_sensor_context(
            instance=instance,
            definitions=defs,
            cursor=first_eval.cursor,
            resources={"pulse": PulseResource.from_settings(settings)},
        )
        assert asset_check_failure_alerts(context2).cursor == first_eval.cursor

    alerts = list_alerts(engine_for(settings))
    assert [(a.source, a.asset_key, a.check_name, a.status) for a in alerts] == [
        ("asset_check", "exec_daily_kpis", "gx_exec_daily_kpis", "open")
    ]
    assert "kpi_date" in alerts[0].message
    assert alerts[0].dagster_run_id == result.run_id
    # readers still see the last good publication
    assert gold.current(settings).id == second.id
    assert gold.read_mart(settings, "exec_daily_kpis").height == DEMO_DAYS
