"""GX suites on dbt's staging models (``stg_*``) as a blocking multi-asset check, read from the
warehouse (read-only, briefly, between dbt invocations: same pool as every warehouse step)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from core.settings import Settings
from orchestration.checks.suites import build_suite_check, read_warehouse_tables
from orchestration.warehouse import WAREHOUSE_POOL

if TYPE_CHECKING:
    from quality.gx_suites import Suite

STAGING_MODELS = (
    "stg_events",
    "stg_marketplace_events",
    "stg_subscription_events",
    "stg_workout_events",
    "stg_recommendation_events",
    "stg_api_requests",
    "stg_app_users",
    "stg_app_programs",
    "stg_app_trainers",
    "stg_app_plans",
)


def _suites(settings: Settings) -> list[Suite]:
    from quality.suites.staging import staging_suites

    return staging_suites()


gx_staging = build_suite_check(
    name="gx_staging",
    description="Great Expectations on the staging models (newest days of the daily ones): "
    "unique non-null message_id and keys (error); ranges and accepted values (warn).",
    tables={name: dg.AssetKey(name) for name in STAGING_MODELS},
    suites=_suites,
    load=read_warehouse_tables,
    pool=WAREHOUSE_POOL,
)

CHECKS = [gx_staging]
