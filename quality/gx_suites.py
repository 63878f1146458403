"""Great Expectations suites, kept as code, run on pandas DataFrames pulled from the gold marts.

GX runs on a whole-DataFrame batch: over DuckDB's SQLAlchemy dialect every expectation fails
silently here (see STACK_NOTES), and gold is published as Parquet anyway. By default the context is
ephemeral; the asset checks pass a file context (:func:`file_context`) so every validation is kept
and rendered into GX Data Docs. ``great_expectations`` takes ~7.5 s to import, so it is imported
inside the functions only.

A :class:`Suite` is a named list of :class:`ExpectationGroup` objects, each with a severity: a failed
``error`` group blocks publication of the mart, a failed ``warn`` group is reported only. The
layers' suites live in :mod:`quality.suites`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

Severity = Literal["error", "warn"]
SEVERITIES: tuple[Severity, ...] = ("error", "warn")

EXEC_DAILY_KPIS_COLUMNS = (
    "kpi_date",
    "dau",
    "new_users",
    "gross_revenue",
    "refunds",
    "revenue",
    "subscription_revenue",
    "program_revenue",
    "workouts_completed",
)
# A fallback ceiling for DAU when the number of known users is not given: far above any
# embedded world, low enough to catch a fan-out join that multiplies rows.
DEFAULT_MAX_DAU = 10_000_000


@dataclass(frozen=True)
class ExpectationOutcome:
    name: str  # e.g. "expect_column_values_to_be_unique(kpi_date)"
    success: bool
    observed: Any = None
    severity: Severity = "error"
    group: str = ""


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    success: bool
    outcomes: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [o.name for o in self.outcomes if not o.success]

    @property
    def severity(self) -> Severity | None:
        """The worst severity among the failed expectations (None when all passed)."""
        failed = {o.severity for o in self.outcomes if not o.success}
        if not failed and not self.success:
            return "error"  # GX failed the run without a failed expectation: treat as error
        return next((s for s in SEVERITIES if s in failed), None)

    def describe(self) -> str:
        passed = sum(o.success for o in self.outcomes)
        text = f"{self.suite}: {passed}/{len(self.outcomes)} expectations passed"
        if self.success:
            return text
        failed = [
            f"[{o.severity}] {o.name}"
            + (f" observed={o.observed}" if o.observed is not None else "")
            for o in self.outcomes
            if not o.success
        ]
        return f"{text}; failed: {'; '.join(failed)}"


@dataclass(frozen=True)
class ExpectationGroup:
    """Expectations that share a purpose (schema, keys, ranges ...) and a severity."""

    name: str
    severity: Severity
    expectations: Callable[[], list[Any]]  # built lazily: gx is imported only when run


@dataclass(frozen=True)
class Suite:
    """A suite kept as code: the table it validates and its groups of expectations."""

    name: str  # e.g. "marts.fct_sessions"
    table: str  # the warehouse model or bronze table it reads
    groups: tuple[ExpectationGroup, ...]
    recent_column: str | None = None  # a date column: only the newest days are validated

    def __post_init__(self) -> None:
        for group in self.groups:
            if group.severity not in SEVERITIES:
                raise ValueError(
                    f"suite {self.name}: group {group.name!r} has severity {group.severity!r}; "
                    f"use one of {SEVERITIES}"
                )

    def expectations(self) -> list[Any]:
        """Every expectation, tagged with its group and severity in ``meta``."""
        out = []
        for group in self.groups:
            for expectation in group.expectations():
                expectation.meta = {
                    **(expectation.meta or {}),
                    "group": group.name,
                    "severity": group.severity,
                }
                out.append(expectation)
        return out


def exec_daily_kpis_expectations(max_dau: int | None = None) -> list[Any]:
    """The expectations on ``exec_daily_kpis`` (one row per day)."""
    import great_expectations.expectations as gxe

    ceiling = max_dau if max_dau is not None else DEFAULT_MAX_DAU
    non_negative = (
        "dau",
        "new_users",
        "gross_revenue",
        "refunds",
        "subscription_revenue",
        "program_revenue",
        "workouts_completed",
    )
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectTableColumnsToMatchSet(
            column_set=list(EXEC_DAILY_KPIS_COLUMNS), exact_match=False
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="kpi_date"),
        gxe.ExpectColumnValuesToBeUnique(column="kpi_date"),
        gxe.ExpectColumnValuesToNotBeNull(column="dau"),
        gxe.ExpectColumnValuesToBeBetween(column="dau", min_value=0, max_value=ceiling),
        *(
            gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0)
            for c in non_negative
            if c != "dau"
        ),
    ]


def _expectation_name(config: Any) -> str:
    kwargs = config.kwargs or {}
    target = kwargs.get("column")
    return f"{config.type}({target})" if target else config.type


def file_context(root: Path, docs_dir: Path) -> Any:
    """A file-backed GX context under ``root`` whose Data Docs site is built into ``docs_dir``.

    Validation results run through it are kept (``<root>/gx/uncommitted/validations``) and
    rendered by :func:`build_data_docs`."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root.mkdir(parents=True, exist_ok=True)
    docs_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(docs_dir),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    sites = context.variables.data_docs_sites or {}
    if sites.get(DOCS_SITE) != site:
        for other in [s for s in sites if s != DOCS_SITE]:
            context.delete_data_docs_site(other)  # GX's default site lands in uncommitted/
        if DOCS_SITE in sites:
            context.update_data_docs_site(DOCS_SITE, site)
        else:
            context.add_data_docs_site(DOCS_SITE, site)
    return context


DOCS_SITE = "pulse_quality"
# Validation results kept per suite in the GX store and the Data Docs site: the site is rebuilt
# from the store after every run, so an unbounded store would make every build slower.
KEEP_VALIDATIONS = 20


def prune_validations(root: Path, docs_dir: Path, keep: int = KEEP_VALIDATIONS) -> int:
    """Delete all but the newest ``keep`` validation runs of each suite from the file context's
    store (``<root>/gx/uncommitted/validations``) and from the rendered site; returns how many
    runs were removed. GX lays runs out as ``<suite path>/__none__/<run time>/`` (sortable)."""
    import shutil

    removed = 0
    for base in (root / "gx" / "uncommitted" / "validations", docs_dir / "validations"):
        if not base.exists():
            continue
        for runs in base.rglob("__none__"):
            ordered = sorted(p for p in runs.iterdir() if p.is_dir())
            for old in ordered[: max(len(ordered) - keep, 0)]:
                shutil.rmtree(old, ignore_errors=True)
                removed += 1
    return removed


def build_data_docs(context: Any) -> str:
    """Render the Data Docs site of a :func:`file_context`; returns the path of its index.html."""
    urls = context.build_data_docs(site_names=[DOCS_SITE])
    return urls[DOCS_SITE].removeprefix("file://")


def run_suite(
    name: str,
    df: pd.DataFrame,
    expectations: Callable[[], list[Any]] | list[Any],
    context: Any | None = None,
) -> SuiteResult:
    """Validate ``df`` against the expectations, in a throwaway (ephemeral) GX context unless a
    (file) ``context`` is given, which then keeps the suite and the result for the Data Docs."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    token = uuid.uuid4().hex[:8]
    if context is None:
        context = gx.get_context(mode="ephemeral")
        # No tqdm bars: they flood logs and the demo's console.
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas(f"pulse_{token}")
    else:
        source = context.data_sources.add_or_update_pandas("pulse")
    asset_names = {a.name for a in source.assets}
    asset = source.get_asset(name) if name in asset_names else source.add_dataframe_asset(name)
    batch_names = {b.name for b in asset.batch_definitions}
    batch = (
        asset.get_batch_definition(f"{name}_whole")
        if f"{name}_whole" in batch_names
        else asset.add_batch_definition_whole_dataframe(f"{name}_whole")
    )
    built = list(expectations() if callable(expectations) else expectations)
    suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=f"{name}_suite", expectations=built)
    )
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
    )
    result = validation.run(batch_parameters={"dataframe": df})
    outcomes = [
        ExpectationOutcome(
            name=_expectation_name(r.expectation_config),
            success=bool(r.success),
            observed=_observed(r),
            severity=(r.expectation_config.meta or {}).get("severity", "error"),
            group=(r.expectation_config.meta or {}).get("group", ""),
        )
        for r in result.results
    ]
    return SuiteResult(suite=f"{name}_suite", success=bool(result.success), outcomes=outcomes)


def validate(suite: Suite, df: pd.DataFrame, context: Any | None = None) -> SuiteResult:
    """Run a :class:`Suite` on a DataFrame of its table."""
    return run_suite(suite.name, df, suite.expectations, context=context)


def validate_all(
    suites: Sequence[Suite], frames: dict[str, pd.DataFrame], context: Any | None = None
) -> dict[str, SuiteResult]:
    """Run each suite on ``frames[suite.table]``; a missing table fails its suite (error)."""
    results = {}
    for suite in suites:
        df = frames.get(suite.table)
        if df is None:
            results[suite.name] = SuiteResult(
                suite=f"{suite.name}_suite",
                success=False,
                outcomes=[
                    ExpectationOutcome(
                        name="table_exists", success=False, observed=f"{suite.table} is missing"
                    )
                ],
            )
            continue
        results[suite.name] = validate(suite, df, context)
    return results


def _observed(r: Any) -> Any:
    res = r.result or {}
    if "observed_value" in res:
        value = res["observed_value"]
        return value if isinstance(value, int | float | str | bool) or value is None else str(value)
    if "unexpected_count" in res:
        return {"unexpected_count": res.get("unexpected_count")}
    if r.exception_info and r.exception_info.get("raised_exception"):
        return {"exception": str(r.exception_info.get("exception_message"))[:200]}
    return None


def validate_exec_daily_kpis(df: pd.DataFrame, max_dau: int | None = None) -> SuiteResult:
    """Run the ``exec_daily_kpis`` suite on a DataFrame of the mart."""
    return run_suite("exec_daily_kpis", df, lambda: exec_daily_kpis_expectations(max_dau))
