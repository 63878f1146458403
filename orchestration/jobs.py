"""Jobs: named selections of the asset graph.

Every job that runs dbt or opens the warehouse carries the tag ``pulse/warehouse``: the instance's
run queue allows one such run at a time (``dagster.yaml``: ``run_queue.tag_concurrency_limits``),
because DuckDB allows one writing process.
"""

import dagster as dg

from orchestration.assets.bronze import BRONZE_KEYS
from orchestration.assets.maintenance import bronze_maintenance
from orchestration.assets.retention import retention_report
from orchestration.checks.exec_daily_kpis import CHECKS
from orchestration.warehouse import DAILY_TAG

WAREHOUSE_TAGS = {"pulse/warehouse": "writer"}
BRONZE_SELECTION = dg.AssetSelection.assets(*BRONZE_KEYS.values())
MAINTENANCE_SELECTION = dg.AssetSelection.assets(bronze_maintenance)
RETENTION_SELECTION = dg.AssetSelection.assets(retention_report)
# Everything `pulse materialize` builds by default: all but the Delta maintenance and retention
# (which deletes data: it runs on its own schedule or on purpose).
DEFAULT_SELECTION = (
    (dg.AssetSelection.all() | BRONZE_SELECTION) - MAINTENANCE_SELECTION - RETENTION_SELECTION
)
# The daily-partitioned dbt models (dbt tag `daily` → Dagster tag) and everything downstream.
DAILY_SELECTION = dg.AssetSelection.tag(DAILY_TAG, "")
# The staging views of the app's exports (users, programs, trainers, plans): the hourly run
# rebuilds them so a program or trainer that arrived late in events and was inferred is
# attributed from the export on the next run (docs/quality.md, "Late-arriving members").
APP_EXPORT_SELECTION = dg.AssetSelection.from_string('key:"stg_app_*"')

# Observe the bronze Delta tables (new Delta version → downstream shows as stale).
observe_bronze_job = dg.define_asset_job(
    name="observe_bronze",
    selection=BRONZE_SELECTION,
    description="Record the bronze tables' Delta versions and row counts.",
)

# Everything: observe bronze, dbt (staging → marts, dbt tests as checks), the GX check, the
# publication, the churn model and the drift report. Daily models need a partition (range).
full_refresh_job = dg.define_asset_job(
    name="pulse_full_refresh",
    selection=DEFAULT_SELECTION,
    tags=WAREHOUSE_TAGS,
    description="Observe bronze, then rebuild every asset: dbt, checks, publication, ML.",
)

# Hourly: the daily-partitioned models for the partition(s) asked (plus dbt's lookback) and
# everything downstream of them (unpartitioned marts, publication, ML).
incremental_job = dg.define_asset_job(
    name="pulse_incremental",
    selection=BRONZE_SELECTION | DAILY_SELECTION.downstream() | APP_EXPORT_SELECTION,
    tags=WAREHOUSE_TAGS,
    description="Rebuild the daily-incremental models of a partition (range) and their downstream.",
)

# Re-run the Great Expectations checks on the warehouse marts without rebuilding them.
gx_checks_job = dg.define_asset_job(
    name="gx_checks",
    selection=dg.AssetSelection.checks(*CHECKS),
    tags=WAREHOUSE_TAGS,
    description="Validate the warehouse marts with the Great Expectations suites.",
)

bronze_maintenance_job = dg.define_asset_job(
    name="bronze_maintenance_job",
    selection=MAINTENANCE_SELECTION,
    description="Compact / Z-order, vacuum and checkpoint the bronze Delta tables.",
)

# Enforce the retention policies (lake/retention.yaml): archive, delete and vacuum expired
# partitions, and prune the warehouse's copy of expired raw events: it opens the warehouse, so it
# never overlaps a dbt run.
retention_job = dg.define_asset_job(
    name="retention_job",
    selection=RETENTION_SELECTION,
    description="Archive, delete and vacuum expired partitions; report what was removed.",
    tags=WAREHOUSE_TAGS,
)

JOBS = [
    observe_bronze_job,
    full_refresh_job,
    incremental_job,
    gx_checks_job,
    bronze_maintenance_job,
    retention_job,
]
