"""The append-only Delta table of every expectation result: ``<lake>/system/quality_results``.

Each validation run (an asset check step) appends one row per expectation: which run, suite and
asset, the expectation, its group and severity, whether it passed and what GX observed (JSON
text). Rows are never updated or deleted, so the table is the history of data quality.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import orjson
import pyarrow as pa

from core.settings import Settings
from quality.gx_suites import SuiteResult

RESULTS_TABLE = ("system", "quality_results")
RESULTS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("suite", pa.string(), nullable=False),
        pa.field("asset", pa.string(), nullable=False),
        pa.field("expectation", pa.string(), nullable=False),
        pa.field("expectation_group", pa.string()),
        pa.field("success", pa.bool_(), nullable=False),
        pa.field("observed_value", pa.string()),  # JSON
        pa.field("severity", pa.string(), nullable=False),  # error | warn
        pa.field("evaluated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def result_rows(
    run_id: str, results: Mapping[str, SuiteResult], assets: Mapping[str, str]
) -> pa.Table:
    """One row per expectation of ``results`` (suite name → result); ``assets`` maps a suite
    name to the asset it validates."""
    now = dt.datetime.now(dt.UTC)
    rows: dict[str, list] = {name: [] for name in RESULTS_SCHEMA.names}
    for name, result in results.items():
        for outcome in result.outcomes:
            rows["run_id"].append(run_id)
            rows["suite"].append(result.suite)
            rows["asset"].append(assets[name])
            rows["expectation"].append(outcome.name)
            rows["expectation_group"].append(outcome.group or None)
            rows["success"].append(outcome.success)
            rows["observed_value"].append(
                None
                if outcome.observed is None
                else orjson.dumps(outcome.observed, default=str).decode()
            )
            rows["severity"].append(outcome.severity)
            rows["evaluated_at"].append(now)
    return pa.Table.from_pydict(rows, schema=RESULTS_SCHEMA)


def append_results(
    settings: Settings, run_id: str, results: Mapping[str, SuiteResult], assets: Mapping[str, str]
) -> int:
    """Append the results of one validation run; returns the number of rows written."""
    from deltalake import CommitProperties, write_deltalake

    table = result_rows(run_id, results, assets)
    if not table.num_rows:
        return 0
    path = settings.table_path(*RESULTS_TABLE)
    path.mkdir(parents=True, exist_ok=True)
    write_deltalake(
        str(path),
        table,
        mode="append",
        commit_properties=CommitProperties(max_commit_retries=100),
    )
    return table.num_rows


def read_results(settings: Settings):
    """The whole results table as a polars DataFrame (empty when nothing was recorded)."""
    import polars as pl
    from deltalake import DeltaTable

    path = settings.table_path(*RESULTS_TABLE)
    if not DeltaTable.is_deltatable(str(path)):
        return pl.DataFrame(schema=pl.from_arrow(RESULTS_SCHEMA.empty_table()).schema)
    return pl.from_arrow(DeltaTable(str(path)).to_pyarrow_table())
