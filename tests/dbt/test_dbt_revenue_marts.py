"""Revenue, marketplace, AI, experiment and system marts on a small simulated lake.

One module-scoped real `dbt build` (models, data tests, unit tests) of these marts and their parents
runs on a world of 150 users x 30 days (fixed seed and end date), bulk-loaded into a temporary lake.
Tests read the models from the warehouse DuckDB file (read-only, after dbt has exited) and check
them against exec_daily_kpis, their own identities, and independent recomputations from the
simulator's raw messages and ground truth.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from core.settings import Settings
from lake.ingest import bulk_load
from lake.simulator import SimConfig, generate_world, write_world
from lake.snapshots import load_snapshots

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO / "dbt_project"
DOMAINS = ("revenue", "marketplace", "ai", "experiments", "system")
SELECTION = [f"+path:models/marts/{domain}" for domain in DOMAINS] + ["exec_daily_kpis"]
DAILY_MODELS = (
    "rev_daily_by_stream",
    "rev_refunds_daily",
    "ai_recommendation_daily",
    "ai_safety_flags_daily",
    "sys_api_latency_hourly",
    "sys_pipeline_health",
)
CONFIG = SimConfig(users=150, days=30, seed=7, end_date=date(2025, 3, 1))


def _dbt(command: str, *args: str, env: dict[str, str], paths: dict[str, Path]) -> float:
    dbt = Path(sys.executable).with_name("dbt")
    started = time.monotonic()
    proc = subprocess.run(
        [
            str(dbt),
            command,
            *args,
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            "--target-path",
            str(paths["target"]),
            "--log-path",
            str(paths["logs"]),
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, (
        f"dbt {command} failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"
    )
    return time.monotonic() - started


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("revenue_lake")
    settings = Settings(data_dir=root / "data")
    world = generate_world(CONFIG)
    write_world(world, settings.sim_dir)
    load_snapshots(settings.sim_dir, settings)
    ingest = bulk_load(world.messages, settings, "src_test")
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PULSE_")},
        **settings.subprocess_env(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    paths = {"target": root / "target", "logs": root / "logs"}
    seconds = _dbt(
        "build", "--select", *SELECTION, "--indirect-selection", "cautious", env=env, paths=paths
    )
    run_results = json.loads((paths["target"] / "run_results.json").read_text())
    return {
        "settings": settings,
        "world": world,
        "truth": world.ground_truth,
        "ingest": ingest,
        "env": env,
        "paths": paths,
        "run_results": run_results,
        "build_seconds": seconds,
    }


def _query(lake: dict, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(lake["settings"].warehouse_path), read_only=True) as con:
        return con.sql(sql).pl()


def test_build_passes_unit_and_data_tests_of_every_domain(lake: dict) -> None:
    results = lake["run_results"]["results"]
    assert results and all(r["status"] in ("success", "pass") for r in results)
    unit_tests = {
        r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("unit_test.")
    }
    for name in (
        "test_rev_mrr_movements_new_expansion_contraction_churn_reactivation",
        "test_int_subscription_state_normalizes_expires_and_opens_balances",
        "test_exp_user_outcomes_14_day_window",
        "test_int_recommendation_outcomes_first_response_and_rating",
    ):
        assert name in unit_tests
    singular = {r["unique_id"].split(".")[2] for r in results if r["unique_id"].startswith("test.")}
    assert "assert_rev_mrr_movements_identity" in singular


def test_revenue_by_stream_agrees_with_exec_daily_kpis(lake: dict) -> None:
    joined = _query(
        lake,
        """
        with streams as (
            select
                revenue_date,
                sum(gross_revenue) as gross,
                sum(refunds) as refunds,
                sum(net_revenue) as net,
                sum(gross_revenue) filter (where revenue_stream = 'subscriptions') as subscriptions,
                sum(gross_revenue) filter (where revenue_stream = 'program_sales') as programs
            from rev_daily_by_stream
            group by revenue_date
        )
        select * from streams full outer join exec_daily_kpis k on streams.revenue_date = k.kpi_date
        """,
    )
    assert joined.height >= CONFIG.days
    assert joined["revenue_date"].null_count() == 0 and joined["kpi_date"].null_count() == 0
    for mine, theirs in (
        ("gross", "gross_revenue"),
        ("refunds", "refunds"),
        ("net", "revenue"),
        ("subscriptions", "subscription_revenue"),
        ("programs", "program_revenue"),
    ):
        diff = (joined[mine] - joined[theirs]).abs().max()
        assert diff < 1e-9, (mine, theirs, diff)
    assert joined["gross"].sum() > 0 and joined["refunds"].sum() > 0
    refunds = _query(
        lake, "select sum(refunded_amount) as r, sum(purchase_revenue) as p from rev_refunds_daily"
    )
    assert math.isclose(refunds["r"][0], joined["refunds"].sum(), abs_tol=1e-6)
    assert math.isclose(refunds["p"][0], joined["programs"].sum(), abs_tol=1e-6)


def test_mrr_movements_add_up_and_end_at_daily_mrr(lake: dict) -> None:
    months = _query(lake, "select * from rev_mrr_movements order by mrr_month")
    daily = _query(lake, "select * from rev_mrr_daily order by mrr_date")
    assert months.height == 2  # 2025-01-30 .. 2025-02-28
    previous_ending = 0.0
    for row in months.iter_rows(named=True):
        moved = (
            row["starting_mrr"]
            + row["new_mrr"]
            + row["expansion_mrr"]
            - row["contraction_mrr"]
            - row["churned_mrr"]
            + row["reactivated_mrr"]
        )
        assert math.isclose(moved, row["ending_mrr"], abs_tol=1e-3), row
        assert math.isclose(row["starting_mrr"], previous_ending, abs_tol=1e-3), row
        month_days = daily.filter(pl.col("mrr_date").dt.month_start() == row["mrr_month"]).sort(
            "mrr_date"
        )
        assert math.isclose(month_days["mrr"][-1], row["ending_mrr"], abs_tol=1e-3)
        previous_ending = row["ending_mrr"]
    # Something moved: subscribers joined and left within the window.
    assert months["new_mrr"].sum() > 0 and months["churned_mrr"].sum() > 0
    # MRR is the sum of normalized plan prices: every daily value is a combination of 14.99 and 119.99/12.
    assert (daily["mrr"] > 0).all()
    assert (
        daily["mrr_monthly_plans"] + daily["mrr_annual_plans"] - daily["mrr"]
    ).abs().max() < 1e-6


def test_experiment_outcomes_recover_the_simulators_arms(lake: dict) -> None:
    experiment = lake["truth"]["experiment"]
    summary = _query(lake, "select * from exp_variant_summary")
    assert set(summary["experiment"]) == {experiment["name"]}
    for variant, arm in experiment["arms_full_window"].items():
        row = summary.filter(pl.col("variant") == variant).row(0, named=True)
        assert (row["users"], row["conversions"]) == (arm["exposed"], arm["converted"]), variant
    outcomes = _query(lake, "select user_id, variant, exposure_date from exp_user_outcomes")
    truth = {
        user_id: (v["variant"], v["exposed_on"])
        for user_id, v in experiment["exposed_users"].items()
    }
    mine = {
        r["user_id"]: (r["variant"], r["exposure_date"].isoformat())
        for r in outcomes.iter_rows(named=True)
    }
    assert mine == truth


def _raw_api_requests(lake: dict) -> pl.DataFrame:
    """API Request messages as the simulator sent them: one per messageId, malformed ones and
    those the consent gate drops out."""
    malformed = set(lake["truth"]["malformed_message_ids"])
    malformed |= set(lake["truth"]["consent"]["dropped_message_ids"])
    rows = {}
    for msg in lake["world"].messages:
        mid = msg.get("messageId")
        props = msg.get("properties")
        if (
            mid is None
            or mid in malformed
            or msg.get("event") != "API Request"
            or not isinstance(props, dict)
        ):
            continue
        rows[mid] = {
            "timestamp": msg["timestamp"],
            "route": props["route"],
            "status": props["status"],
            "latency_ms": props["latency_ms"],
        }
    return pl.DataFrame(list(rows.values())).with_columns(
        pl.col("timestamp").str.to_datetime(time_zone="UTC").dt.truncate("1h").alias("hour")
    )


def test_api_latency_percentiles_match_a_polars_recomputation(lake: dict) -> None:
    raw = _raw_api_requests(lake)
    busiest = (
        raw.group_by("route", "hour")
        .len()
        .sort(["len", "route", "hour"], descending=True)
        .row(0, named=True)
    )
    sample = raw.filter((pl.col("route") == busiest["route"]) & (pl.col("hour") == busiest["hour"]))
    mart = _query(
        lake,
        f"""
        select * from sys_api_latency_hourly
        where endpoint = '{busiest["route"]}'
            and request_hour = timestamptz '{busiest["hour"].isoformat()}'
        """,
    )
    assert mart.height == 1
    row = mart.row(0, named=True)
    assert row["requests"] == sample.height == busiest["len"]
    for q, column in ((0.5, "p50_latency_ms"), (0.95, "p95_latency_ms"), (0.99, "p99_latency_ms")):
        expected = sample["latency_ms"].quantile(q, interpolation="linear")
        assert math.isclose(row[column], expected, rel_tol=1e-9), (column, row[column], expected)
    assert math.isclose(row["error_rate"], (sample["status"] >= 500).mean(), rel_tol=1e-9)
    all_requests = _query(lake, "select sum(requests) as n from sys_api_latency_hourly")["n"][0]
    assert all_requests == raw.height


def test_pipeline_health_counts_landed_and_quarantined_rows(lake: dict) -> None:
    health = _query(lake, "select * from sys_pipeline_health")
    assert health["rows_landed"].sum() == lake["ingest"].accepted
    assert health["quarantined"].sum() == lake["ingest"].quarantined > 0
    assert health["quarantine_table_exists"].all()


def test_recommendation_acceptance_matches_ground_truth(lake: dict) -> None:
    daily = _query(
        lake,
        "select model_version, sum(shown)::bigint as shown, sum(accepted)::bigint as accepted "
        "from ai_recommendation_daily group by 1",
    )
    truth = lake["truth"]["model_acceptance"]
    for row in daily.iter_rows(named=True):
        assert row["shown"] == truth[row["model_version"]]["shown"]
        assert (
            round(row["accepted"] / row["shown"], 4)
            == truth[row["model_version"]]["acceptance_rate"]
        )


def test_daily_incremental_runs_from_empty_equal_the_full_build(lake: dict) -> None:
    """Drop the daily marts, rebuild them in two windowed runs (as Dagster's daily partitions do:
    the first creates the table, the second delete+inserts its days and the lookback before
    them), and compare with the full build, bit for bit."""

    def snapshot() -> dict[str, pl.DataFrame]:
        return {m: _query(lake, f"select * from {m} order by all") for m in DAILY_MODELS}

    full = snapshot()
    with duckdb.connect(str(lake["settings"].warehouse_path)) as con:
        for model in DAILY_MODELS:
            con.execute(f"drop table {model}")
    first = date.fromisoformat(lake["truth"]["start_date"])
    last = date.fromisoformat(lake["truth"]["end_date"]) - timedelta(days=1)
    middle = first + timedelta(days=17)
    # Partitions run up to today: quarantined rows count on the day they were received (the bulk
    # load's day), not on an event date.
    today = datetime.now(UTC).date()
    for start, end in ((first, middle), (middle + timedelta(days=1), max(last, today))):
        window = {"min_date": start.isoformat(), "max_date": end.isoformat()}
        _dbt(
            "run",
            "--select",
            *DAILY_MODELS,
            "--vars",
            json.dumps(window),
            env=lake["env"],
            paths=lake["paths"],
        )
    incremental = snapshot()
    for model in DAILY_MODELS:
        assert full[model].height > 0
        assert full[model].equals(incremental[model]), model
