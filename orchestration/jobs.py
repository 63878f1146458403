"""Jobs: named selections of the asset graph."""

import dagster as dg

from orchestration.assets.bronze import BRONZE_KEYS
from orchestration.checks.exec_daily_kpis import CHECKS

BRONZE_SELECTION = dg.AssetSelection.assets(*BRONZE_KEYS.values())

# Observe the bronze Delta tables (new Delta version → downstream shows as stale).
observe_bronze_job = dg.define_asset_job(
    name="observe_bronze",
    selection=BRONZE_SELECTION,
    description="Record the bronze tables' Delta versions and row counts.",
)

# Everything: observe bronze, then dbt staging and marts (+ dbt tests as checks), the GX check,
# the churn model and the drift report.
full_refresh_job = dg.define_asset_job(
    name="pulse_full_refresh",
    selection=dg.AssetSelection.all() | BRONZE_SELECTION,
    description="Observe bronze, then rebuild every asset: dbt, checks, churn model, drift report.",
)

# Re-run the Great Expectations checks on the published marts without rebuilding them.
gx_checks_job = dg.define_asset_job(
    name="gx_checks",
    selection=dg.AssetSelection.checks(*CHECKS),
    description="Validate the published marts with the Great Expectations suites.",
)

JOBS = [observe_bronze_job, full_refresh_job, gx_checks_job]
