"""GX suites on the bronze Delta tables (``bronze/events``, ``bronze/quarantine``) as a blocking
multi-asset check. Only the newest ``RECENT_DAYS`` partitions are read (partition filter on
``event_date`` / ``received_date``), so the check costs the same at 10M events as at 10k."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.settings import Settings
from orchestration.assets.bronze import BRONZE_KEYS
from orchestration.checks.suites import RECENT_DAYS, build_suite_check

if TYPE_CHECKING:
    import pandas as pd

    from quality.gx_suites import Suite

BRONZE_CHECKED = {"events": BRONZE_KEYS["events"], "quarantine": BRONZE_KEYS["quarantine"]}


def newest_partition(path: str, column: str) -> dt.date | None:
    """The newest value of the partition column, from the Delta log (no data read)."""
    import pyarrow as pa
    from deltalake import DeltaTable

    actions = pa.table(DeltaTable(path).get_add_actions(flatten=True))
    name = f"partition.{column}"
    if not actions.num_rows or name not in actions.column_names:
        return None
    values = [v for v in actions.column(name).to_pylist() if v is not None]
    if not values:
        return None
    return max(v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)) for v in values)


def read_recent_bronze(
    settings: Settings, suites: Sequence[Suite], days: int = RECENT_DAYS
) -> dict[str, pd.DataFrame | None]:
    """The newest ``days`` partitions of each suite's bronze table (None if the table is absent;
    an existing table with no rows yet gives an empty frame)."""
    from deltalake import DeltaTable

    out: dict[str, pd.DataFrame | None] = {}
    for suite in suites:
        path = str(settings.table_path("bronze", suite.table))
        if not DeltaTable.is_deltatable(path):
            out[suite.table] = None
            continue
        table = DeltaTable(path)
        newest = newest_partition(path, suite.recent_column) if suite.recent_column else None
        filters = (
            [(suite.recent_column, ">=", newest - dt.timedelta(days=days - 1))]
            if newest is not None
            else None
        )
        out[suite.table] = table.to_pyarrow_table(filters=filters).to_pandas()
    return out


def _suites(settings: Settings) -> list[Suite]:
    from quality.suites.bronze import bronze_suites

    return bronze_suites()


gx_bronze = build_suite_check(
    name="gx_bronze",
    description="Great Expectations on the newest bronze partitions: schema, envelope fields, "
    "event types and quarantine reasons (error); volume, sequence, duplicate share (warn).",
    tables=BRONZE_CHECKED,
    suites=_suites,
    load=read_recent_bronze,
)

CHECKS = [gx_bronze]
