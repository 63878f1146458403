"""Bronze tables as Dagster sees them: external Delta tables written by the collector.

Dagster does not materialize them; it *observes* them. Each observation records the Delta table
version as the asset's data version (so downstream assets show as stale when the collector commits)
and the row and file counts as metadata.
"""

import warnings
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetExecutionContext

from lake.dashboard_accounts import TABLE as DASHBOARD_ACCOUNTS
from lake.snapshots import SNAPSHOT_KEYS
from lake.tables import BRONZE_TABLES
from orchestration.resources import PulseResource

BRONZE_PREFIX = "bronze"


def delta_snapshot(path: Path) -> tuple[dg.DataVersion, dict[str, object]]:
    """Data version and metadata of a Delta table (or of its absence)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(str(path))
    except TableNotFoundError:
        return dg.DataVersion("absent"), {"path": dg.MetadataValue.path(str(path)), "exists": False}
    actions = pa.table(table.get_add_actions(flatten=True))
    rows = int(pc.sum(actions["num_records"]).as_py() or 0) if actions.num_rows else 0
    version = table.version()
    return dg.DataVersion(str(version)), {
        "path": dg.MetadataValue.path(str(path)),
        "exists": True,
        "delta_version": version,
        "dagster/row_count": rows,
        "files": actions.num_rows,
    }


def _bronze_observable(table: str) -> dg.SourceAsset:
    with warnings.catch_warnings():
        # observable_source_asset is marked beta; it is the documented way to observe external data.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _define_observable(table)


def _define_observable(table: str) -> dg.SourceAsset:
    @dg.observable_source_asset(
        name=table,
        key_prefix=[BRONZE_PREFIX],
        group_name="ingest",
        description=f"Bronze Delta table `{table}` written by the collector (lake/tables.py).",
        required_resource_keys={"pulse"},
        tags={"dagster/kind/delta": ""},
    )
    def _observe(context: AssetExecutionContext) -> dg.ObserveResult:
        pulse: PulseResource = context.resources.pulse
        version, metadata = delta_snapshot(pulse.settings().table_path(BRONZE_PREFIX, table))
        return dg.ObserveResult(data_version=version, metadata=metadata)

    return _observe


bronze_events = _bronze_observable("events")
bronze_quarantine = _bronze_observable("quarantine")
bronze_consent = _bronze_observable("consent")  # the consent ledger (lake/consent.py)
# The app's reference snapshots (lake/snapshots.py): bronze/app_users, app_programs, ...
# Pulse's own snapshot: the dashboards' accounts, the denominator of adoption
# (lake/dashboard_accounts.py).
SNAPSHOT_TABLES = [f"app_{name}" for name in SNAPSHOT_KEYS] + [DASHBOARD_ACCOUNTS]
BRONZE_ASSETS = [
    bronze_events,
    bronze_quarantine,
    bronze_consent,
    *map(_bronze_observable, SNAPSHOT_TABLES),
]
BRONZE_KEYS = {
    table: dg.AssetKey([BRONZE_PREFIX, table]) for table in [*BRONZE_TABLES, *SNAPSHOT_TABLES]
}
