"""Transform benchmark (issue 4): the dbt project and the published marts at 1x and 10x data.

For each scale a simulated world is streamed to disk (``simulate_to_dir``), bulk-loaded into
``bronze/events`` and the app snapshots are landed; then, in that lake:

- a full build on a fresh warehouse, as ``dbt run --full-refresh`` then ``dbt test`` (so the time
  of models and of tests is known apart; the tests can be stopped after a time limit);
- a one-day incremental ``dbt run`` of the last day: of the models tagged ``daily`` only (what a
  daily partition rebuilds), the window given as ``PULSE_DBT_MIN_DATE``/``MAX_DATE`` (no re-parse),
  and of the whole project with ``--vars {min_date: D, max_date: D}`` (as Dagster passed the window
  before: dbt re-parses; daily models incremental, the other models rebuilt);
- the marts tagged ``gold`` are published through ``lake.gold`` (as Dagster's publish step does);
- a fixed set of dashboard-style queries runs on the published Parquet (DuckDB, one in-memory
  connection as a dashboard process keeps), each ``query_runs`` times: p50 / p95;
- the bronze small-file count (Parquet files of ``bronze/events``), and after the Delta
  maintenance (compaction) when the project has it.

Where the time of a dbt run goes is read from dbt's own ``run_results.json`` (per-node timings),
plus the part before the first node: dbt start-up. bronze/events is not copied into the warehouse:
``stg_events`` reads it in place, partition-pruned (``lake/dbt_plugin.py``). The machine's load
average is recorded before and after each scale (the machine may be shared).

Worlds are cached under ``work_dir`` (``world.json`` marks a finished one), so a re-run measures
the pipeline again without simulating and loading again.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_DIR / "dbt_project"

# Goals of issue 4 (at ~10M events).
FULL_BUILD_GOAL_S = 120.0
INCREMENTAL_GOAL_S = 15.0
QUERY_P95_GOAL_MS = 200.0

# Dashboard-style queries: (name, marts it reads, SQL over views named like the marts).
QUERIES: list[tuple[str, tuple[str, ...], str]] = [
    (
        "exec KPIs, last 28 days",
        ("exec_daily_kpis",),
        "select * from exec_daily_kpis "
        "where kpi_date > (select max(kpi_date) from exec_daily_kpis) - 28 order by kpi_date",
    ),
    (
        "exec KPI cards, 7d vs previous 7d",
        ("exec_daily_kpis",),
        """
        with bounds as (select max(kpi_date) as last_day from exec_daily_kpis)
        select
            kpi_date > last_day - 7 as current_period,
            avg(dau) as avg_dau, sum(new_users) as new_users, sum(revenue) as revenue
        from exec_daily_kpis, bounds
        where kpi_date > last_day - 14
        group by all order by current_period
        """,
    ),
    (
        "DAU/WAU/MAU and stickiness trend",
        ("eng_active_users_daily",),
        "select activity_date, dau, wau, mau, stickiness from eng_active_users_daily "
        "order by activity_date",
    ),
    (
        "MRR trend",
        ("rev_mrr_daily",),
        "select * from rev_mrr_daily order by 1",
    ),
    (
        "weekly cohort retention matrix",
        ("eng_cohort_retention",),
        "select cohort_start, period_number, retention_rate from eng_cohort_retention "
        "where cohort_grain = 'week' and period_grain = 'week' and window_type = 'calendar' "
        "and retention_kind = 'n_day' "
        "order by cohort_start, period_number",
    ),
    (
        "signup funnel by week",
        ("eng_signup_funnel",),
        "select date_trunc('week', signup_at) as week, count(*) as signups, "
        "avg(converted_purchase_within_window::int) as purchase_conversion "
        "from eng_signup_funnel group by 1 order by 1",
    ),
    (
        "recommendation acceptance by model version",
        ("ai_recommendation_daily",),
        "select model_version, sum(shown) as shown, sum(accepted) as accepted, "
        "sum(accepted) / nullif(sum(shown), 0) as acceptance_rate "
        "from ai_recommendation_daily group by 1 order by 1",
    ),
    (
        "sessions per platform per day (fact scan)",
        ("fct_sessions",),
        "select session_date, platform, count(*) as sessions "
        "from fct_sessions group by all order by 1, 2",
    ),
    (
        "top 20 users by revenue, last 30 days (fact scan)",
        ("fct_user_daily",),
        "select user_id, sum(revenue) as revenue, sum(events) as events from fct_user_daily "
        "where activity_date > (select max(activity_date) from fct_user_daily) - 30 "
        "group by 1 order by 2 desc limit 20",
    ),
]


@dataclass(frozen=True)
class Scale:
    label: str
    users: int
    days: int
    seed: int = 7
    end_date: date = date(2026, 3, 1)


def _settings_for(data_dir: Path):
    os.environ["PULSE_DATA_DIR"] = str(data_dir)
    from core.settings import get_settings

    get_settings.cache_clear()
    return get_settings()


# ---- world -------------------------------------------------------------------------------------


def prepare_world(work_dir: Path, scale: Scale, chunk_size: int = 500_000) -> dict[str, Any]:
    """Simulate, bulk-load and land snapshots under ``work_dir/data`` (once; cached)."""
    marker = work_dir / "world.json"
    wanted = {"users": scale.users, "days": scale.days, "seed": scale.seed}
    wanted["end_date"] = scale.end_date.isoformat()
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("params") == wanted:
            return info
        shutil.rmtree(work_dir / "data", ignore_errors=True)
    settings = _settings_for(work_dir / "data")

    from lake.ingest import bulk_load
    from lake.simulator import SimConfig, load_world_messages, simulate_to_dir
    from lake.snapshots import load_snapshots

    started = time.perf_counter()
    config = SimConfig(users=scale.users, days=scale.days, seed=scale.seed, end_date=scale.end_date)
    _paths, truth = simulate_to_dir(config, settings.sim_dir)
    simulate_s = time.perf_counter() - started
    report = bulk_load(
        load_world_messages(settings.sim_dir), settings, "bench", chunk_size=chunk_size
    )
    load_snapshots(settings.sim_dir, settings)
    info = {
        "params": wanted,
        "rows": truth["message_counts"]["rows"],
        "accepted": report.accepted,
        "quarantined": report.quarantined,
        "simulate_s": simulate_s,
        "bulk_load_s": report.seconds,
        "first_day": truth["start_date"],
        "last_day": (date.fromisoformat(truth["end_date"]) - timedelta(days=1)).isoformat(),
    }
    marker.write_text(json.dumps(info, indent=2))
    return info


# ---- dbt ---------------------------------------------------------------------------------------


def _dbt_executable() -> str:
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(
    settings,
    args: list[str],
    work_dir: Path,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one dbt command in its own target/log paths; return wall time and per-node timings.
    After ``timeout`` seconds dbt is stopped and the result says ``timed_out``. ``env``: extra
    environment variables."""
    target = work_dir / "dbt_target"
    (target / "run_results.json").unlink(missing_ok=True)
    cmd = [
        _dbt_executable(),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(work_dir / "dbt_logs"),
    ]
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"  dbt {' '.join(args)}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO_DIR,
            env={**os.environ, **settings.subprocess_env(), **(env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        wall = time.perf_counter() - started
        return {"wall_s": wall, "nodes": [], "failed": [], "returncode": None, "timed_out": True}
    wall = time.perf_counter() - started
    print(f"    {wall:.1f} s", file=sys.stderr, flush=True)
    results = json.loads((target / "run_results.json").read_text())
    nodes = [
        {
            "unique_id": r["unique_id"],
            "status": r["status"],
            "seconds": r["execution_time"],
        }
        for r in results["results"]
    ]
    failed = [n["unique_id"] for n in nodes if n["status"] in ("error", "fail")]
    if proc.returncode != 0 and not nodes:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-3000:]}")
    return {
        "wall_s": wall,
        "dbt_elapsed_s": results.get("elapsed_time", wall),
        "nodes": nodes,
        "failed": failed,
        "returncode": proc.returncode,
        "timed_out": False,
    }


def time_breakdown(run: dict[str, Any], top: int = 5) -> dict[str, Any]:
    """Where a dbt run's time went: model vs test time (node sums, 2 threads overlap) and the
    slowest nodes."""
    models = [n for n in run["nodes"] if n["unique_id"].startswith("model.")]
    tests = [n for n in run["nodes"] if n["unique_id"].startswith(("test.", "unit_test."))]
    slowest = sorted(run["nodes"], key=lambda n: n["seconds"], reverse=True)[:top]
    return {
        "model_node_s": sum(n["seconds"] for n in models),
        "test_node_s": sum(n["seconds"] for n in tests),
        "models": len(models),
        "tests": len(tests),
        "slowest": [(n["unique_id"].split(".", 2)[-1], round(n["seconds"], 2)) for n in slowest],
    }


def load_average() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# ---- publishing and queries --------------------------------------------------------------------


def publish_gold(settings, work_dir: Path) -> tuple[float, list[str]]:
    """Copy every ``gold`` model from the warehouse into a new lake.gold publication with the
    Dagster publish step's own function; returns seconds and the published marts."""
    from orchestration.assets.publish import export_and_publish
    from orchestration.warehouse import GOLD_TAG, models_from_manifest, tagged

    manifest = json.loads((work_dir / "dbt_target" / "manifest.json").read_text())
    models = tagged(models_from_manifest(manifest), GOLD_TAG)
    started = time.perf_counter()
    publication, _missing = export_and_publish(settings, models, {"run_id": "bench"})
    return time.perf_counter() - started, sorted(publication.models)


def run_queries(settings, runs: int) -> list[dict[str, Any]]:
    """Each dashboard query ``runs`` times on the current publication: p50/p95 in ms."""
    import duckdb

    from lake import gold

    publication = gold.current(settings)
    con = duckdb.connect()
    for name in publication.models:
        path = str(publication.mart_path(name)).replace("'", "''")
        con.execute(f"create view \"{name}\" as select * from read_parquet('{path}')")
    out = []
    for label, marts, sql in QUERIES:
        missing = [m for m in marts if m not in publication.models]
        if missing:
            out.append({"query": label, "skipped": f"not published: {', '.join(missing)}"})
            continue
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            con.execute(sql).fetchall()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        out.append(
            {
                "query": label,
                "p50_ms": statistics.median(times),
                "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
                "runs": runs,
            }
        )
    con.close()
    return out


def bronze_file_count(settings) -> dict[str, int]:
    """Data files of bronze/events: live (in the Delta log: what every reader opens) and on disk
    (live + files removed from the log but not vacuumed yet)."""
    from deltalake import DeltaTable

    path = settings.table_path("bronze", "events")
    return {
        "live": len(DeltaTable(str(path)).file_uris()),
        "on_disk": sum(1 for _ in path.rglob("*.parquet")),
    }


def run_maintenance(settings) -> dict[str, Any]:
    """The scheduled Delta maintenance asset's function on bronze/events (compaction + Z-order,
    vacuum with retention 0 here so on-disk files show the effect at once, checkpoint)."""
    from orchestration.assets.maintenance import ZORDER_COLUMNS, maintain_table

    started = time.perf_counter()
    report = maintain_table(
        settings.table_path("bronze", "events"),
        "events",
        zorder_columns=ZORDER_COLUMNS.get("events"),
        vacuum_retention_hours=0,
    )
    return {
        "seconds": time.perf_counter() - started,
        "partitions_rewritten": report.partitions_rewritten,
    }


# ---- one scale ---------------------------------------------------------------------------------


def measure_scale(
    work_dir: Path,
    scale: Scale,
    query_runs: int = 20,
    select: str | None = None,
    maintain: bool = True,
    test_timeout: float | None = None,
    step_timeout: float | None = None,
) -> dict[str, Any]:
    """Everything above for one scale. ``select``: a dbt selection (the smoke test builds a few
    models only); default the whole project."""
    world = prepare_world(work_dir, scale)
    load_before = load_average()
    settings = _settings_for(work_dir / "data")
    # A fresh warehouse and publication area: the full build starts from nothing.
    settings.warehouse_path.unlink(missing_ok=True)
    shutil.rmtree(settings.gold_dir, ignore_errors=True)

    selection = ["--select", select, "--indirect-selection", "cautious"] if select else []
    # The smoke test's selection is daily models already.
    daily_selection = selection or ["--select", "tag:daily"]
    # The full build = every model from scratch (`dbt run --full-refresh`), then every test
    # (`dbt test`); run apart so each part's time is known (a `dbt build` interleaves them).
    full = run_dbt(settings, ["run", "--full-refresh", *selection], work_dir)
    # Publish and query right after the full build (the marts a dashboard would read).
    publish_s, published = publish_gold(settings, work_dir)
    queries = run_queries(settings, query_runs)
    last_day = world["last_day"]
    one_day = json.dumps({"min_date": last_day, "max_date": last_day})
    # A daily partition run: the daily-incremental models rebuild the day (+ lookback). The window
    # comes from the environment (PULSE_DBT_MIN_DATE/MAX_DATE), which keeps dbt's partial parsing;
    # a changed --vars makes dbt re-parse the whole project first.
    one_day_env = {"PULSE_DBT_MIN_DATE": last_day, "PULSE_DBT_MAX_DATE": last_day}
    inc_daily = run_dbt(
        settings, ["run", *daily_selection], work_dir, timeout=step_timeout, env=one_day_env
    )
    # The whole project with the window as --vars (as Dagster passed it before, so dbt re-parses):
    # the other models rebuild fully.
    inc = run_dbt(settings, ["run", "--vars", one_day, *selection], work_dir, timeout=step_timeout)
    tests = run_dbt(settings, ["test", *selection], work_dir, timeout=test_timeout)
    files_before = bronze_file_count(settings)
    maintenance = run_maintenance(settings) if maintain else None

    def summary(run: dict[str, Any]) -> dict[str, Any]:
        return {
            **time_breakdown(run),
            "wall_s": run["wall_s"],
            "failed": run["failed"],
            "timed_out": run["timed_out"],
        }

    return {
        "scale": scale.label,
        "world": world,
        "load_average": {"before": load_before, "after": load_average()},
        "full_run": summary(full),
        "tests": summary(tests),
        "incremental_daily": summary(inc_daily),
        "incremental": summary(inc),
        "publish_s": publish_s,
        "published": published,
        "queries": queries,
        "bronze_files": files_before,
        "bronze_files_after_maintenance": bronze_file_count(settings) if maintenance else None,
        "maintenance": maintenance,
    }


def metrics_for(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The result of one scale as harness metric rows."""
    s = result["scale"]
    world, full, inc = result["world"], result["full_run"], result["incremental"]
    inc_daily = result["incremental_daily"]
    tests = result["tests"]

    def failed(run: dict[str, Any]) -> str:
        return f"; FAILED: {len(run['failed'])} nodes" if run["failed"] else ""

    build_s = full["wall_s"] + tests["wall_s"]
    timed_out = f"; tests stopped after {tests['wall_s']:.0f} s" if tests["timed_out"] else ""
    rows: list[dict[str, Any]] = [
        {"metric": f"[{s}] events simulated", "value": world["rows"], "unit": "events"},
        {"metric": f"[{s}] bronze rows (accepted)", "value": world["accepted"], "unit": "rows"},
        {"metric": f"[{s}] bulk load", "value": world["bulk_load_s"], "unit": "s"},
        {
            "metric": f"[{s}] full dbt build = run + test",
            "value": build_s,
            "unit": "s",
            "goal": f"<= {FULL_BUILD_GOAL_S:.0f} s at 10M events{timed_out}",
        },
        {
            "metric": f"[{s}]   dbt run --full-refresh ({full['models']} models)",
            "value": full["wall_s"],
            "unit": "s",
            "goal": failed(full).lstrip("; "),
        },
        {
            "metric": f"[{s}]   dbt test "
            + ("(stopped at the limit)" if tests["timed_out"] else f"({tests['tests']} tests)"),
            "value": tests["wall_s"],
            "unit": "s",
            "goal": (failed(tests) + timed_out).lstrip("; "),
        },
        {"metric": f"[{s}]   model node time (sum)", "value": full["model_node_s"], "unit": "s"},
        {
            "metric": f"[{s}] one-day incremental dbt run, daily models "
            f"({inc_daily['models']}, {world['last_day']})",
            "value": inc_daily["wall_s"],
            "unit": "s",
            "goal": f"<= {INCREMENTAL_GOAL_S:.0f} s (window via env: no re-parse){failed(inc_daily)}"
            + (f"; stopped after {inc_daily['wall_s']:.0f} s" if inc_daily["timed_out"] else ""),
        },
        {
            "metric": f"[{s}] one-day dbt run, whole project ({inc['models']} models)",
            "value": inc["wall_s"],
            "unit": "s",
            "goal": f"--vars (re-parse); daily models incremental, the rest rebuilt{failed(inc)}"
            + (f"; stopped after {inc['wall_s']:.0f} s" if inc["timed_out"] else ""),
        },
        {"metric": f"[{s}] publish gold marts", "value": result["publish_s"], "unit": "s"},
    ]
    for q in result["queries"]:
        if "skipped" in q:
            rows.append(
                {
                    "metric": f"[{s}] query: {q['query']}",
                    "value": 0,
                    "unit": "-",
                    "goal": q["skipped"],
                }
            )
            continue
        rows += [
            {"metric": f"[{s}] query p50: {q['query']}", "value": q["p50_ms"], "unit": "ms"},
            {
                "metric": f"[{s}] query p95: {q['query']}",
                "value": q["p95_ms"],
                "unit": "ms",
                "goal": f"<= {QUERY_P95_GOAL_MS:.0f} ms ({q['runs']} runs)",
            },
        ]
    if not tests["timed_out"]:
        rows.append(
            {"metric": f"[{s}]   test node time (sum)", "value": tests["test_node_s"], "unit": "s"}
        )
    phases = (("full run", full), ("tests", tests), ("one-day daily", inc_daily), ("one-day", inc))
    for phase, run in phases:
        for node, seconds in run["slowest"]:
            rows.append(
                {"metric": f"[{s}]   {phase} slowest: {node}", "value": seconds, "unit": "s"}
            )
    files, after = result["bronze_files"], result["bronze_files_after_maintenance"]
    rows += [
        {"metric": f"[{s}] bronze/events files (live)", "value": files["live"], "unit": "files"},
        {
            "metric": f"[{s}] bronze/events files (on disk)",
            "value": files["on_disk"],
            "unit": "files",
        },
    ]
    if after is not None:
        rows += [
            {
                "metric": f"[{s}] bronze maintenance (Z-order + vacuum)",
                "value": result["maintenance"]["seconds"],
                "unit": "s",
            },
            {
                "metric": f"[{s}] bronze/events files after maintenance (live)",
                "value": after["live"],
                "unit": "files",
                "goal": "<= 1 per event_date partition",
            },
        ]
    return rows


SCALES = {
    "1x": Scale("1x", users=4_350, days=60),
    "10x": Scale("10x", users=43_500, days=60),
}


def run(
    scales: list[Scale],
    work_root: Path,
    query_runs: int = 20,
    test_timeout: float | None = 900,
    step_timeout: float | None = 1800,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Measure every scale; returns (params, metric rows, raw results)."""
    results, rows = [], []
    for scale in scales:
        result = measure_scale(
            work_root / scale.label,
            scale,
            query_runs,
            test_timeout=test_timeout,
            step_timeout=step_timeout,
        )
        results.append(result)
        rows += metrics_for(result)
    params = {
        "scales": ", ".join(f"{s.label}={s.users}x{s.days}d" for s in scales),
        "query_runs": query_runs,
        "load average (1/5/15 min) before → after each scale": "; ".join(
            f"{r['scale']}: {r['load_average']['before']} → {r['load_average']['after']}"
            for r in results
        ),
    }
    return params, rows, results
