"""GX suites on the important marts of every domain as a blocking multi-asset check, read from the
warehouse before publication. Referential integrity needs the dimensions' keys, read first in the
same step (``dim_users.user_id``, ``dim_programs.program_id``, ``dim_trainers.trainer_id``).

The dimensions hold every member the events mention (late-arriving ones as inferred members), so
a fact key missing from its dimension is a broken build (error); the inferred members themselves
are reported by the warning check ``inferred_members`` (:mod:`orchestration.checks.inferred_members`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from core.settings import Settings
from orchestration.checks.inferred_members import inferred_members
from orchestration.checks.suites import build_suite_check, read_warehouse_tables
from orchestration.warehouse import WAREHOUSE_POOL, read_only

if TYPE_CHECKING:
    from quality.gx_suites import Suite

MART_MODELS = (
    "dim_users",
    "dim_programs",
    "fct_sessions",
    "fct_user_daily",
    "fct_workouts",
    "rev_daily_by_stream",
    "rev_mrr_daily",
    "rev_arpu_monthly",
    "mkt_program_performance",
    "mkt_trainer_revenue",
    "ai_recommendation_daily",
    "ai_model_deployments",
    "ai_safety_flags_daily",
    "exp_variant_summary",
    "exp_user_outcomes",
    "sys_api_latency_hourly",
    "sys_pipeline_health",
)


def dimension_keys(settings: Settings):
    """The key sets of the dimensions (empty when a dimension is not built: then every fact key
    fails its referential expectation, as it should)."""
    from orchestration.dbt_project import require_manifest
    from orchestration.warehouse import existing_relations, load_manifest, models_from_manifest
    from quality.suites.marts import DIMENSIONS, DimensionKeys

    models = models_from_manifest(load_manifest(require_manifest()))
    keys: dict[str, set[str]] = {}
    with read_only(settings) as con:
        present = existing_relations(con)
        for table, column in DIMENSIONS.items():
            model = models[table]
            keys[table] = (
                {r[0] for r in con.execute(f'select "{column}" from {model.relation}').fetchall()}
                if (model.schema, model.alias) in present
                else set()
            )
    return DimensionKeys(
        users=keys["dim_users"], programs=keys["dim_programs"], trainers=keys["dim_trainers"]
    )


def _suites(settings: Settings) -> list[Suite]:
    from quality.suites.marts import mart_suites

    return mart_suites(dimension_keys(settings))


gx_marts = build_suite_check(
    name="gx_marts",
    description="Great Expectations on the marts (newest days of the daily ones): keys, "
    "uniqueness and referential integrity in the dimensions (error); ranges, rates in [0, 1], "
    "row counts (warn).",
    tables={name: dg.AssetKey(name) for name in MART_MODELS},
    suites=_suites,
    load=read_warehouse_tables,
    pool=WAREHOUSE_POOL,
)

CHECKS = [gx_marts, inferred_members]
