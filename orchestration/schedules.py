"""Schedules."""

from __future__ import annotations

import dagster as dg

from orchestration.jobs import full_refresh_job

# Running by default: in the demo the daemon rebuilds the marts nightly without anyone turning it on.
daily_full_refresh = dg.ScheduleDefinition(
    name="daily_full_refresh",
    job=full_refresh_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly rebuild of every asset at 03:00 UTC, after the collector's day closes.",
)

SCHEDULES = [daily_full_refresh]
