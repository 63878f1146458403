"""Schedules. Running by default: in the demo, the daemon keeps things fresh without anyone
switching them on.

- ``hourly_incremental``: today's partition of the daily models (dbt re-reads ``lookback_days``
  before it for late events) and everything downstream, publication included.
- ``daily_full_refresh``: the whole graph at 03:00 UTC; daily models for yesterday and today
  (plus the lookback), every other model rebuilt whole.
- ``observe_bronze_quarter_hourly``: record what the collector landed.
- ``bronze_maintenance_daily``: compaction / Z-order / vacuum at 04:30 UTC, after the rebuild.
- ``retention_daily``: retention policies (archive, delete, vacuum expired partitions) at 05:15
  UTC, after the maintenance (both rewrite bronze files: apart, they do not conflict).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from orchestration.jobs import (
    bronze_maintenance_job,
    full_refresh_job,
    incremental_job,
    observe_bronze_job,
    retention_job,
)
from orchestration.partitions import daily_partitions

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def partition_range_tags(first: dt.date, last: dt.date) -> dict[str, str]:
    """Run tags asking for one run over the partitions ``first..last`` (single-run backfill)."""
    fmt = daily_partitions.fmt
    return {RANGE_START: first.strftime(fmt), RANGE_END: last.strftime(fmt)}


@dg.schedule(
    name="hourly_incremental",
    job=incremental_job,
    cron_schedule="10 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour: today's partition of the daily models (+ lookback) and downstream.",
)
def hourly_incremental(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    today = context.scheduled_execution_time.astimezone(dt.UTC).date()
    key = today.strftime(daily_partitions.fmt)
    return dg.RunRequest(
        run_key=f"hourly-{context.scheduled_execution_time:%Y%m%dT%H}", partition_key=key
    )


@dg.schedule(
    name="daily_full_refresh",
    job=full_refresh_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly rebuild of the whole graph at 03:00 UTC (daily models: yesterday + today).",
)
def daily_full_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    today = context.scheduled_execution_time.astimezone(dt.UTC).date()
    return dg.RunRequest(
        run_key=f"daily-{today.isoformat()}",
        tags=partition_range_tags(today - dt.timedelta(days=1), today),
    )


observe_bronze_quarter_hourly = dg.ScheduleDefinition(
    name="observe_bronze_quarter_hourly",
    job=observe_bronze_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Observe what the collector has landed (Delta version, rows) every 15 minutes.",
)

bronze_maintenance_daily = dg.ScheduleDefinition(
    name="bronze_maintenance_daily",
    job=bronze_maintenance_job,
    cron_schedule="30 4 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Compact / Z-order, vacuum and checkpoint bronze at 04:30 UTC.",
)

retention_daily = dg.ScheduleDefinition(
    name="retention_daily",
    job=retention_job,
    cron_schedule="15 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Enforce the retention policies at 05:15 UTC: archive, delete, vacuum, report.",
)

# Without daily-partitioned models (a project that has none yet) the nightly run needs no range.
daily_full_refresh_unpartitioned = dg.ScheduleDefinition(
    name="daily_full_refresh",
    job=full_refresh_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly rebuild of every asset at 03:00 UTC.",
)


def build_schedules(has_daily_models: bool) -> list[dg.ScheduleDefinition]:
    common = [observe_bronze_quarter_hourly, bronze_maintenance_daily, retention_daily]
    if has_daily_models:
        return [hourly_incremental, daily_full_refresh, *common]
    return [daily_full_refresh_unpartitioned, *common]
