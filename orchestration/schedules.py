"""Schedules. Running by default: in the demo, the daemon keeps things fresh without anyone
switching them on."""

import dagster as dg

from orchestration.jobs import full_refresh_job, observe_bronze_job

daily_full_refresh = dg.ScheduleDefinition(
    name="daily_full_refresh",
    job=full_refresh_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly rebuild of every asset at 03:00 UTC, after the collector's day closes.",
)

observe_bronze_quarter_hourly = dg.ScheduleDefinition(
    name="observe_bronze_quarter_hourly",
    job=observe_bronze_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Observe what the collector has landed (Delta version, rows) every 15 minutes.",
)

SCHEDULES = [daily_full_refresh, observe_bronze_quarter_hourly]
