"""A full refresh and a sequence of daily incremental runs give identical daily-incremental models.

One simulated world (150 users x 20 days) is landed in a temporary lake the realistic way: bronze
grows a send day at a time (late events arrive on a later send day, within the 3-day lookback).

- Warehouse B follows the lake: one `dbt run` of the daily models and their parents after the first
  days, then one such run per new day with
  `--vars {min_date: D, max_date: D}` (what Dagster's daily partitions pass), one with the same
  window from the environment (`PULSE_DBT_MIN_DATE`/`PULSE_DBT_MAX_DATE`), and a last plain
  incremental run (no vars: rebuilds from `lookback_days` before the newest built day).
- Warehouse A is built once, `dbt run --full-refresh`, on the final lake (the models' data tests
  and unit tests run in test_dbt_marts.py; a build here would only add time).

Every model tagged `daily` must then hold exactly the same rows in A and B (DuckDB queries on the
two warehouse files, opened read-only after dbt has exited).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from core.settings import Settings
from lake.ingest import bulk_load
from lake.simulator import SimConfig, generate_world, write_world
from lake.simulator.dashboard_usage import simulate_dashboard_usage
from lake.snapshots import load_snapshots

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO / "dbt_project"
END_DATE = date(2026, 3, 1)  # exclusive: the world covers 2026-02-09 .. 2026-02-28
DAYS = 20
INITIAL_DAYS = 17  # B's first run sees these send days; then one run per further day
DAILY_SELECTION = "tag:daily"
# Every model tagged `daily` (checked against the manifest): one comparison per model, so a
# difference names its model.
DAILY_MODELS = (
    "stg_events",
    "stg_account_events",
    "stg_api_requests",
    "stg_engagement_events",
    "stg_experiment_exposures",
    "stg_marketplace_events",
    "stg_recommendation_events",
    "stg_safety_flags",
    "stg_subscription_events",
    "stg_workout_events",
    "int_ingestion_daily",
    "int_sessions",
    "int_sessions_by_platform",
    "int_user_day_activity",
    "fct_sessions",
    "fct_user_daily",
    "eng_active_users_daily",
    "eng_session_stats_daily",
    "exec_daily_kpis",
    "ai_recommendation_daily",
    "ai_safety_flags_daily",
    "rev_daily_by_stream",
    "rev_refunds_daily",
    "sys_api_latency_hourly",
    "stg_dashboard_events",
)


def _dbt(*args: str, env: dict[str, str], target: Path) -> subprocess.CompletedProcess[str]:
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)],
        env={**env, "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target / "logs")},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}"
    return proc


def _messages_sent_on(events: pa.Table, day: date) -> list[dict]:
    rows = events.filter(pc.equal(events.column("send_day"), pa.scalar(day, pa.date32())))
    return [orjson.loads(p) for p in rows.column("payload").to_pylist()]


def _daily_models(target: Path) -> list[str]:
    manifest = json.loads((target / "manifest.json").read_text())
    return sorted(
        node["alias"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "daily" in node["config"].get("tags", [])
    )


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("incremental_equivalence")
    settings = Settings(data_dir=root / "data")
    world = generate_world(SimConfig(users=150, days=DAYS, seed=11, end_date=END_DATE))
    write_world(world, settings.sim_dir)
    load_snapshots(settings.sim_dir, settings)
    events = world.events  # one row per message as sent: day, send_day (UTC dates), payload
    first_day = END_DATE - timedelta(days=DAYS)
    # The dashboards' own usage (internal source), sent on the day it happens.
    usage: dict[date, list[dict]] = {}
    for message in simulate_dashboard_usage(
        first_day, END_DATE - timedelta(days=1), ["executive", "revenue"], lambda n: f"dash_{n}"
    ):
        usage.setdefault(date.fromisoformat(message["timestamp"][:10]), []).append(message)

    def load_day(day: date) -> None:
        bulk_load(_messages_sent_on(events, day), settings, "src_test")
        if usage.get(day):
            bulk_load(usage[day], settings, "src_dashboards")

    (root / "warehouse").mkdir()
    wh_a, wh_b = root / "warehouse" / "a.duckdb", root / "warehouse" / "b.duckdb"
    base_env = {
        **os.environ,
        **settings.subprocess_env(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    env_a = {**base_env, "PULSE_WAREHOUSE_PATH": str(wh_a)}
    env_b = {**base_env, "PULSE_WAREHOUSE_PATH": str(wh_b)}
    target_a, target_b = root / "target_a", root / "target_b"

    timings: dict[str, float] = {}
    started = time.monotonic()
    for day_index in range(INITIAL_DAYS):
        load_day(first_day + timedelta(days=day_index))
    _dbt("run", "--select", f"+{DAILY_SELECTION}", env=env_b, target=target_b)
    timings["b_initial"] = time.monotonic() - started

    daily_runs = []
    for day_index in range(INITIAL_DAYS, DAYS):
        day = first_day + timedelta(days=day_index)
        load_day(day)
        started = time.monotonic()
        if day_index == DAYS - 2:
            # The window from the environment instead of vars (keeps dbt's partial parsing).
            window = {"PULSE_DBT_MIN_DATE": day.isoformat(), "PULSE_DBT_MAX_DATE": day.isoformat()}
            _dbt("run", "--select", f"+{DAILY_SELECTION}", env={**env_b, **window}, target=target_b)
        elif day_index < DAYS - 1:
            vars_ = json.dumps({"min_date": day.isoformat(), "max_date": day.isoformat()})
            _dbt(
                "run",
                "--select",
                f"+{DAILY_SELECTION}",
                "--vars",
                vars_,
                env=env_b,
                target=target_b,
            )
        else:
            # The last day as a plain incremental run (no partition vars).
            _dbt("run", "--select", f"+{DAILY_SELECTION}", env=env_b, target=target_b)
        daily_runs.append(time.monotonic() - started)
    timings["b_daily_max"] = max(daily_runs)

    started = time.monotonic()
    _dbt("run", "--full-refresh", "--select", f"+{DAILY_SELECTION}", env=env_a, target=target_a)
    timings["a_full_refresh"] = time.monotonic() - started
    print(f"incremental equivalence timings (s): {timings}")
    return {"a": wh_a, "b": wh_b, "models": _daily_models(target_a), "timings": timings}


def test_every_daily_model_is_compared_and_nonempty(warehouses: dict) -> None:
    assert set(warehouses["models"]) == set(DAILY_MODELS), "DAILY_MODELS must list the daily models"
    with duckdb.connect(str(warehouses["a"]), read_only=True) as con:
        for model in warehouses["models"]:
            assert con.sql(f"select count(*) from main.{model}").fetchall()[0][0] > 0, model


@pytest.mark.parametrize("model", DAILY_MODELS)
def test_full_refresh_equals_daily_incremental_runs(warehouses: dict, model: str) -> None:
    assert model in warehouses["models"], f"{model} is not tagged daily any more"
    with duckdb.connect() as con:
        con.execute(f"attach '{warehouses['a']}' as a (read_only)")
        con.execute(f"attach '{warehouses['b']}' as b (read_only)")
        counts = {
            "rows_a": f"select count(*) from a.main.{model}",
            "rows_b": f"select count(*) from b.main.{model}",
            "only_a": f"select count(*) from (from a.main.{model} except all from b.main.{model})",
            "only_b": f"select count(*) from (from b.main.{model} except all from a.main.{model})",
        }
        got = {name: con.sql(sql).fetchall()[0][0] for name, sql in counts.items()}
    assert got["rows_a"] == got["rows_b"] and got["only_a"] == got["only_b"] == 0, got
