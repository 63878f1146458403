"""Great Expectations suites, kept as code, run on pandas DataFrames pulled from the gold marts.

GX runs in an ephemeral context on a whole-DataFrame batch: over DuckDB's SQLAlchemy dialect every
expectation fails silently here (see STACK_NOTES), and gold is published as Parquet anyway.
``great_expectations`` takes ~7.5 s to import, so it is imported inside the functions only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

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


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    success: bool
    outcomes: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [o.name for o in self.outcomes if not o.success]

    def describe(self) -> str:
        passed = sum(o.success for o in self.outcomes)
        text = f"{self.suite}: {passed}/{len(self.outcomes)} expectations passed"
        return text if self.success else f"{text}; failed: {', '.join(self.failed)}"


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


def run_suite(
    name: str, df: pd.DataFrame, expectations: Callable[[], list[Any]] | list[Any]
) -> SuiteResult:
    """Validate ``df`` against the expectations in a throwaway (ephemeral) GX context."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # No tqdm bars: they flood logs and the demo's console.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    token = uuid.uuid4().hex[:8]
    batch = (
        context.data_sources.add_pandas(f"pulse_{token}")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe(f"{name}_whole")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_suite"))
    for expectation in expectations() if callable(expectations) else expectations:
        suite.add_expectation(expectation)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_validation_{token}", data=batch, suite=suite)
    )
    result = validation.run(batch_parameters={"dataframe": df})
    outcomes = [
        ExpectationOutcome(
            name=_expectation_name(r.expectation_config),
            success=bool(r.success),
            observed=_observed(r),
        )
        for r in result.results
    ]
    return SuiteResult(suite=f"{name}_suite", success=bool(result.success), outcomes=outcomes)


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
