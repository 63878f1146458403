"""The one Dagster entry point (``workspace.yaml`` → ``orchestration.definitions``).

It loads the concept modules and applies cross-cutting policy once (freshness policies on the
marts and the publication). The dbt manifest must have been prepared at install time
(``make install`` / ``pulse prepare``): nothing is parsed here, and a missing manifest raises
``ManifestMissingError`` saying so.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from core.settings import Settings
from orchestration.assets.bronze import BRONZE_ASSETS
from orchestration.assets.dbt import build_dbt_assets, has_daily_models
from orchestration.assets.maintenance import MAINTENANCE_ASSETS
from orchestration.assets.ml import ML_ASSETS
from orchestration.assets.platform import (
    PLATFORM_ASSETS,
    PLATFORM_JOBS,
    PLATFORM_SCHEDULES,
    PLATFORM_SENSORS,
)
from orchestration.assets.publish import GOLD_PUBLICATION, build_gold_publication
from orchestration.assets.quality import QUALITY_ASSETS, QUALITY_JOBS, QUALITY_SCHEDULES
from orchestration.assets.quality_scores import QUALITY_SCORE_ASSETS
from orchestration.assets.retention import RETENTION_ASSETS
from orchestration.checks.bronze import CHECKS as BRONZE_CHECKS
from orchestration.checks.exec_daily_kpis import CHECKS
from orchestration.checks.marts import CHECKS as MART_CHECKS
from orchestration.checks.staging import CHECKS as STAGING_CHECKS
from orchestration.dbt_project import pulse_dbt_project, require_manifest
from orchestration.jobs import JOBS, incremental_job
from orchestration.materialize import rederive
from orchestration.privacy import build_privacy_erase_job
from orchestration.resources import build_resources
from orchestration.schedules import build_schedules
from orchestration.sensors.alerts import SENSORS
from orchestration.sensors.bronze import build_bronze_events_sensor
from orchestration.warehouse import GOLD_TAG, load_manifest, models_from_manifest, tagged

MART_GROUPS = (
    "marts_core",
    "marts_engagement",
    "marts_revenue",
    "marts_marketplace",
    "marts_ai",
    "marts_experiments",
    "marts_system",
    "marts_executive",
    "marts_adoption",
)
# Marts are rebuilt nightly (03:00 UTC) at least: stale after 26 h, warn after 13 h. The
# publication follows the hourly incremental schedule.
MART_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=26), warn_window=dt.timedelta(hours=13)
)
PUBLICATION_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=3), warn_window=dt.timedelta(minutes=90)
)


def _gold_keys(dbt_assets: list[dg.AssetsDefinition], names: set[str]) -> list[dg.AssetKey]:
    return [key for a in dbt_assets for key in a.keys if key.path[-1] in names]


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    """All definitions. ``settings`` pins the data directory (materialize_all, tests); without it
    the resources read the ``PULSE_`` environment when a run starts."""
    manifest = load_manifest(require_manifest())
    partitioned = has_daily_models(manifest)
    dbt_assets = build_dbt_assets(pulse_dbt_project())
    gold_models = tagged(models_from_manifest(manifest), GOLD_TAG)
    # Downstream of every gold model and of every asset with a blocking check: a failed dbt
    # error-severity test or blocking check skips publication.
    checks = [*CHECKS, *BRONZE_CHECKS, *STAGING_CHECKS, *MART_CHECKS]
    checked = [c.asset_key for c in checks for c in c.check_specs if c.blocking]
    publication = build_gold_publication(
        gold_models, [*_gold_keys(dbt_assets, {m.name for m in gold_models}), *checked]
    )
    jobs = [
        *(j for j in JOBS if partitioned or j is not incremental_job),
        *QUALITY_JOBS,
        *PLATFORM_JOBS,
        # re-derivation after an erasure materializes these definitions (passed in: the job
        # module never imports the entry point)
        build_privacy_erase_job(lambda s, dates: rederive(s, dates, definitions=build_defs)),
    ]
    defs = dg.Definitions(
        assets=[
            *BRONZE_ASSETS,
            *dbt_assets,
            publication,
            *ML_ASSETS,
            *MAINTENANCE_ASSETS,
            *QUALITY_ASSETS,
            *QUALITY_SCORE_ASSETS,
            *PLATFORM_ASSETS,
            *RETENTION_ASSETS,
        ],
        asset_checks=checks,
        jobs=jobs,
        schedules=[*build_schedules(partitioned), *QUALITY_SCHEDULES, *PLATFORM_SCHEDULES],
        sensors=[*SENSORS, build_bronze_events_sensor(partitioned), *PLATFORM_SENSORS],
        resources=build_resources(settings),
        # In-process by default: the multiprocess executor starts a Python process per step, ~7 s
        # each on this 2-core machine (46 s vs 25 s for the full graph, STACK_NOTES), and steps
        # that open the DuckDB warehouse must not overlap anyway (one writer).
        executor=dg.in_process_executor,
    )
    defs = defs.permissive_map_resolved_asset_specs(
        func=lambda spec: dg.apply_freshness_policy(spec, MART_FRESHNESS),
        selection=dg.AssetSelection.groups(*MART_GROUPS),
    )
    return defs.permissive_map_resolved_asset_specs(
        func=lambda spec: dg.apply_freshness_policy(spec, PUBLICATION_FRESHNESS),
        selection=dg.AssetSelection.assets(GOLD_PUBLICATION),
    )


defs = build_defs()
