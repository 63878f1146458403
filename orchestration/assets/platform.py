"""Self-monitoring in Dagster: the ``platform_telemetry`` sensor and the ``platform_health`` mart.

* ``platform_telemetry`` (sensor, every minute while the Dagster daemon runs): samples the host and
  probes every service (:mod:`orchestration.monitoring`), appending to ``system/host_telemetry``
  and ``system/service_probes``. It starts no run.
* ``platform_health`` (asset, hourly and in every full materialization): the system mart
  ``system/platform_metrics``, one row per (date, category, name, dimension) with a value, a unit
  and, where the seed sets one, a target:

  - ``uptime``: share of ok probes per service per day (target 99.5 %), probes per day;
  - ``host``: CPU p95, load and memory max, last disk use per day;
  - ``collector``: max flush lag and WAL backlog per day (scraped from its ``/metrics``);
  - ``runs``: Dagster runs, failed runs, p50/p95 duration per job per day (the instance's run
    records);
  - ``lag``: hours since each asset's latest materialization (as of the run);
  - ``capacity``: events per event day; rows, live and on-disk bytes per Delta table; lake bytes and
    its growth per day over the last 7 days; average events per day over the last 7 days.

  Each run replaces the days it recomputes (``days``, default 7) and every per-event-day capacity
  row, so it is idempotent.
"""

import datetime as dt
from typing import Any

import dagster as dg
import polars as pl

from orchestration.monitoring import append, lake_capacity, probe_services, sample_host
from orchestration.resources import PulseResource

PLATFORM_HEALTH = dg.AssetKey(["system", "platform_health"])
UPTIME_TARGET_PERCENT = 99.5
METRICS_SCHEMA = {
    "date": pl.Date,
    "category": pl.String,
    "name": pl.String,
    "dimension": pl.String,
    "value": pl.Float64,
    "unit": pl.String,
    "target": pl.Float64,
}


@dg.sensor(
    name="platform_telemetry",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every minute: sample host CPU/memory/disk and probe each service's health.",
)
def platform_telemetry(context: dg.SensorEvaluationContext, pulse: PulseResource) -> dg.SkipReason:
    settings = pulse.settings()
    now = dt.datetime.now(dt.UTC)
    host = sample_host(settings, now)
    probes = probe_services(settings, now=now)
    append(settings, "host_telemetry", [host])
    append(settings, "service_probes", probes)
    down = [p["service"] for p in probes if not p["ok"]]
    return dg.SkipReason(
        f"cpu {host['cpu_percent']:.0f}%, memory {host['memory_percent']:.0f}%, "
        f"disk {host['disk_percent']:.0f}%; "
        + (f"down: {', '.join(down)}" if down else "all services ok")
    )


class PlatformHealthConfig(dg.Config):
    days: int = 7  # telemetry days recomputed per run (today included)


def _read(settings, table: str, since: dt.datetime) -> pl.DataFrame:
    from deltalake import DeltaTable

    path = settings.table_path("system", table)
    if not DeltaTable.is_deltatable(str(path)):
        return pl.DataFrame()
    column = "sampled_at" if table == "host_telemetry" else "probed_at"
    return pl.read_delta(str(path)).filter(pl.col(column) >= since)


def _rows(frame: pl.DataFrame, category: str, unit_of: dict[str, str], target_of=None) -> list:
    out = []
    for r in frame.iter_rows(named=True):
        for name, unit in unit_of.items():
            if r.get(name) is None:
                continue
            out.append(
                {
                    "date": r["date"],
                    "category": category,
                    "name": name,
                    "dimension": r.get("dimension") or "",
                    "value": float(r[name]),
                    "unit": unit,
                    "target": (target_of or {}).get(name),
                }
            )
    return out


def telemetry_metrics(settings, since: dt.datetime) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    probes = _read(settings, "service_probes", since)
    if probes.height:
        daily = probes.group_by(
            date=pl.col("probed_at").dt.date(), dimension=pl.col("service")
        ).agg(
            uptime_percent=pl.col("ok").mean() * 100,
            probes=pl.len().cast(pl.Float64),
            latency_ms_p95=pl.col("latency_ms").quantile(0.95),
            flush_lag_seconds_max=pl.col("flush_lag_seconds").max(),
            wal_pending_events_max=pl.col("wal_pending_events").max(),
        )
        rows += _rows(
            daily,
            "uptime",
            {"uptime_percent": "%", "probes": "probes", "latency_ms_p95": "ms"},
            {"uptime_percent": UPTIME_TARGET_PERCENT},
        )
        rows += _rows(
            daily.filter(pl.col("dimension") == "collector"),
            "collector",
            {"flush_lag_seconds_max": "s", "wal_pending_events_max": "events"},
        )
    host = _read(settings, "host_telemetry", since)
    if host.height:
        daily = host.group_by(date=pl.col("sampled_at").dt.date(), dimension=pl.col("host")).agg(
            cpu_percent_p95=pl.col("cpu_percent").quantile(0.95),
            load_1m_max=pl.col("load_1m").max(),
            memory_percent_max=pl.col("memory_percent").max(),
            disk_percent_last=pl.col("disk_percent").sort_by("sampled_at").last(),
        )
        rows += _rows(
            daily,
            "host",
            {
                "cpu_percent_p95": "%",
                "load_1m_max": "load",
                "memory_percent_max": "%",
                "disk_percent_last": "%",
            },
        )
    return rows


def run_metrics(instance: dg.DagsterInstance, since: dt.datetime) -> list[dict[str, Any]]:
    records = instance.get_run_records(dg.RunsFilter(created_after=since))
    runs = [
        {
            "date": dt.datetime.fromtimestamp(r.create_timestamp.timestamp(), dt.UTC).date(),
            "dimension": r.dagster_run.job_name,
            "failed": r.dagster_run.status == dg.DagsterRunStatus.FAILURE,
            "seconds": (r.end_time - r.start_time) if r.end_time and r.start_time else None,
        }
        for r in records
    ]
    if not runs:
        return []
    daily = (
        pl.DataFrame(
            runs,
            schema={
                "date": pl.Date,
                "dimension": pl.String,
                "failed": pl.Boolean,
                "seconds": pl.Float64,
            },
        )
        .group_by("date", "dimension")
        .agg(
            runs=pl.len().cast(pl.Float64),
            failed_runs=pl.col("failed").sum().cast(pl.Float64),
            duration_p50_s=pl.col("seconds").median(),
            duration_p95_s=pl.col("seconds").quantile(0.95),
        )
    )
    return _rows(
        daily,
        "runs",
        {"runs": "runs", "failed_runs": "runs", "duration_p50_s": "s", "duration_p95_s": "s"},
    )


def lag_metrics(instance: dg.DagsterInstance, now: dt.datetime) -> list[dict[str, Any]]:
    rows = []
    for key in instance.get_asset_keys():
        event = instance.get_latest_materialization_event(key)
        if event is None:
            continue
        hours = (now.timestamp() - event.timestamp) / 3600
        rows.append(
            {
                "date": now.date(),
                "category": "lag",
                "name": "hours_since_materialization",
                "dimension": key.to_user_string(),
                "value": hours,
                "unit": "h",
                "target": None,
            }
        )
    return rows


def capacity_metrics(settings, now: dt.datetime, previous: pl.DataFrame) -> list[dict[str, Any]]:
    capacity = lake_capacity(settings)
    today = now.date()
    rows = [
        {
            "date": day,
            "category": "capacity",
            "name": "events",
            "dimension": "bronze/events",
            "value": float(n),
            "unit": "events",
            "target": None,
        }
        for day, n in capacity["events_per_day"].items()
    ]
    for table, stats in capacity["tables"].items():
        for name, unit in (
            ("rows", "rows"),
            ("live_bytes", "bytes"),
            ("disk_bytes", "bytes"),
            ("files", "files"),
        ):
            rows.append(
                {
                    "date": today,
                    "category": "capacity",
                    "name": name,
                    "dimension": table,
                    "value": float(stats[name]),
                    "unit": unit,
                    "target": None,
                }
            )
    for name in ("lake_bytes", "data_dir_bytes"):
        rows.append(
            {
                "date": today,
                "category": "capacity",
                "name": name,
                "dimension": "",
                "value": float(capacity[name]),
                "unit": "bytes",
                "target": None,
            }
        )
    recent = list(capacity["events_per_day"].values())[-7:]
    if recent:
        rows.append(
            {
                "date": today,
                "category": "capacity",
                "name": "events_per_day_7d_avg",
                "dimension": "bronze/events",
                "value": sum(recent) / len(recent),
                "unit": "events/day",
                "target": None,
            }
        )
    if previous.height:
        week_ago = previous.filter(
            (pl.col("name") == "lake_bytes") & (pl.col("date") <= today - dt.timedelta(days=7))
        ).sort("date")
        if week_ago.height:
            then = week_ago.row(-1, named=True)
            days = (today - then["date"]).days
            rows.append(
                {
                    "date": today,
                    "category": "capacity",
                    "name": "lake_bytes_growth_per_day",
                    "dimension": "",
                    "value": (capacity["lake_bytes"] - then["value"]) / days,
                    "unit": "bytes/day",
                    "target": None,
                }
            )
    return rows


@dg.asset(
    key=PLATFORM_HEALTH,
    group_name="system",
    kinds={"polars", "delta"},
    description="Daily platform metrics: uptime, host, collector lag, Dagster runs, asset lag, capacity.",
)
def platform_health(
    context: dg.AssetExecutionContext, config: PlatformHealthConfig, pulse: PulseResource
) -> dg.MaterializeResult:
    from deltalake import DeltaTable, write_deltalake

    settings = pulse.settings()
    now = dt.datetime.now(dt.UTC)
    start = dt.datetime.combine(now.date() - dt.timedelta(days=config.days - 1), dt.time(), dt.UTC)
    path = settings.table_path("system", "platform_metrics")
    previous = pl.read_delta(str(path)) if DeltaTable.is_deltatable(str(path)) else pl.DataFrame()
    rows = [
        *telemetry_metrics(settings, start),
        *run_metrics(context.instance, start),
        *lag_metrics(context.instance, now),
        *capacity_metrics(settings, now, previous),
    ]
    frame = pl.DataFrame(rows, schema=METRICS_SCHEMA)
    path.mkdir(parents=True, exist_ok=True)
    if DeltaTable.is_deltatable(str(path)):
        write_deltalake(
            str(path),
            frame.to_arrow(),
            mode="overwrite",
            predicate=f"date >= '{start.date()}' OR (category = 'capacity' AND name = 'events')",
        )
    else:
        write_deltalake(str(path), frame.to_arrow(), mode="append")
    uptime = frame.filter((pl.col("name") == "uptime_percent") & (pl.col("date") == now.date()))
    return dg.MaterializeResult(
        metadata={
            "rows": frame.height,
            "recomputed_from": start.date().isoformat(),
            **{
                f"uptime_today/{r['dimension']}": round(r["value"], 2)
                for r in uptime.iter_rows(named=True)
            },
            "categories": ", ".join(sorted(set(frame["category"]))) if frame.height else "none",
        }
    )


platform_health_job = dg.define_asset_job(
    name="platform_health_job",
    selection=dg.AssetSelection.assets(PLATFORM_HEALTH),
    description="Recompute the system mart from telemetry, run records and the lake.",
)
platform_health_schedule = dg.ScheduleDefinition(
    name="platform_health_hourly",
    job=platform_health_job,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly, a quarter past: refresh the system mart.",
)

PLATFORM_ASSETS = [platform_health]
PLATFORM_JOBS = [platform_health_job]
PLATFORM_SCHEDULES = [platform_health_schedule]
PLATFORM_SENSORS = [platform_telemetry]
