"""Builds one Dagster multi-asset check per layer from the GX suites of :mod:`quality.suites`.

One check (one step) per layer validates every table of that layer: GX is imported and the
warehouse opened once, not once per table. Each table gets its own blocking check spec
(``gx_<table>``) whose severity is the worst failed expectation group: a failed ``error`` group
fails the step and so skips ``gold_publication`` (which depends on every asset with a blocking
check), a failed ``warn`` group is reported only. Every run appends its expectation results to
``<lake>/system/quality_results`` and rebuilds the GX Data Docs under ``<data>/quality/data_docs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import dagster as dg

from core.settings import Settings
from orchestration.resources import PulseResource

if TYPE_CHECKING:
    import pandas as pd

    from quality.gx_suites import Suite, SuiteResult

# How many of the newest days of a date-partitioned table are validated (speed at 10M events).
RECENT_DAYS = 3
GX_DIR = ("quality", "gx")

# (settings, suites) -> frames by table name, as pandas
Loader = Callable[[Settings, Sequence["Suite"]], Mapping[str, "pd.DataFrame | None"]]
# settings -> the suites to run (the marts' suites need the dimension keys)
SuiteFactory = Callable[[Settings], Sequence["Suite"]]


def check_name(table: str) -> str:
    return f"gx_{table}"


def docs_index(settings: Settings) -> str:
    return str(settings.data_docs_dir / "index.html")


def run_suites(
    settings: Settings,
    run_id: str,
    suites: Sequence[Suite],
    frames: Mapping[str, pd.DataFrame | None],
    assets: Mapping[str, dg.AssetKey],
) -> dict[str, SuiteResult]:
    """Validate, append the results to the results table and rebuild the Data Docs."""
    from quality.gx_suites import build_data_docs, file_context, prune_validations, validate_all
    from quality.results import append_results

    root, docs = settings.data_dir.joinpath(*GX_DIR), settings.data_docs_dir
    context = file_context(root, docs)
    results = validate_all(suites, dict(frames), context=context)
    append_results(
        settings,
        run_id,
        results,
        {s.name: assets[s.table].to_user_string() for s in suites},
    )
    prune_validations(root, docs)  # the table above keeps the full history
    build_data_docs(context)
    return results


def check_result(
    key: dg.AssetKey, table: str, result: SuiteResult, rows: int | None, docs: str
) -> dg.AssetCheckResult:
    severity = result.severity
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check_name(table),
        passed=result.success,
        severity=dg.AssetCheckSeverity.WARN if severity == "warn" else dg.AssetCheckSeverity.ERROR,
        description=result.describe(),
        metadata={
            "suite": result.suite,
            "rows_validated": rows,
            "evaluated": len(result.outcomes),
            "failed_expectations": ", ".join(result.failed) or "none",
            "failed_severity": severity or "none",
            "data_docs": dg.MetadataValue.path(docs),
            "results": dg.MetadataValue.json(
                [
                    {
                        "expectation": o.name,
                        "group": o.group,
                        "severity": o.severity,
                        "success": o.success,
                        "observed": o.observed,
                    }
                    for o in result.outcomes
                ]
            ),
        },
    )


def build_suite_check(
    name: str,
    description: str,
    tables: Mapping[str, dg.AssetKey],
    suites: SuiteFactory,
    load: Loader,
    pool: str | None = None,
) -> dg.AssetChecksDefinition:
    """A subsettable multi-asset check with one blocking spec per table of ``tables``."""
    specs = [
        dg.AssetCheckSpec(
            check_name(table),
            asset=key,
            blocking=True,
            description=f"Great Expectations suite on `{table}` (quality/suites); "
            "error groups block publication, warn groups only report.",
        )
        for table, key in tables.items()
    ]
    by_key = {dg.AssetCheckKey(key, check_name(table)): table for table, key in tables.items()}

    @dg.multi_asset_check(
        name=name, specs=specs, description=description, can_subset=True, pool=pool
    )
    def _check(context, pulse: PulseResource) -> Iterator[dg.AssetCheckResult]:
        # (no annotation on context: this module's annotations are strings, Dagster wants a type)
        settings = pulse.settings()
        selected = {by_key[k] for k in context.selected_asset_check_keys if k in by_key}
        chosen = [s for s in suites(settings) if s.table in selected]
        frames = load(settings, chosen)
        results = run_suites(settings, context.run.run_id, chosen, frames, tables)
        docs = docs_index(settings)
        for suite in chosen:
            result = results[suite.name]
            frame = frames.get(suite.table)
            if not result.success:
                context.log.warning(result.describe())
            yield check_result(
                tables[suite.table],
                suite.table,
                result,
                None if frame is None else len(frame),
                docs,
            )

    return _check


def read_warehouse_tables(
    settings: Settings, suites: Sequence[Suite], days: int = RECENT_DAYS
) -> dict[str, pd.DataFrame | None]:
    """Each suite's table from the warehouse, in one short read-only connection: the newest
    ``days`` days of a table with a ``recent_column``, the whole table otherwise (None when the
    model is not built)."""
    from orchestration.dbt_project import require_manifest
    from orchestration.warehouse import (
        existing_relations,
        load_manifest,
        models_from_manifest,
        read_only,
    )

    models = models_from_manifest(load_manifest(require_manifest()))
    out: dict[str, pd.DataFrame | None] = {}
    with read_only(settings) as con:
        present = existing_relations(con)
        for suite in suites:
            model = models.get(suite.table)
            if model is None or (model.schema, model.alias) not in present:
                out[suite.table] = None
                continue
            sql = f"select * from {model.relation}"
            if suite.recent_column:
                col = f'"{suite.recent_column}"'
                sql += (
                    f" where {col} >= (select max({col}) from {model.relation})"
                    f" - interval {int(days) - 1} day"
                )
            out[suite.table] = con.sql(sql).df()
    return out
