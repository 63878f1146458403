"""Great Expectations suite on the ``exec_daily_kpis`` mart, as a blocking asset check: a mart that
breaks it fails the run and skips ``gold_publication`` (which depends on it), so dashboards and
reports keep reading the last good publication. It validates the warehouse table, before
publication."""

import dagster as dg

from orchestration.resources import PulseResource

EXEC_DAILY_KPIS = dg.AssetKey("exec_daily_kpis")


@dg.asset_check(
    asset=EXEC_DAILY_KPIS,
    name="gx_exec_daily_kpis",
    blocking=True,
    description="Great Expectations: schema, unique non-null kpi_date, 0 ≤ dau ≤ known users, "
    "non-negative revenue and counts, at least one row.",
)
def gx_exec_daily_kpis(pulse: PulseResource) -> dg.AssetCheckResult:
    from orchestration.warehouse import read_models
    from quality.gx_suites import validate_exec_daily_kpis

    settings = pulse.settings()
    # Runs before publication (it blocks it): read the warehouse read-only, briefly, between dbt
    # invocations (dbt has exited: same run, in-process executor, `duckdb_warehouse` pool).
    marts = read_models(settings, ["exec_daily_kpis", "dim_users"])
    if marts["exec_daily_kpis"] is None:
        return dg.AssetCheckResult(
            passed=False,
            metadata={"error": f"exec_daily_kpis is not in {settings.warehouse_path}"},
            description="the mart was not built",
        )
    kpis = marts["exec_daily_kpis"].to_pandas()
    max_dau = marts["dim_users"].height if marts["dim_users"] is not None else None
    result = validate_exec_daily_kpis(kpis, max_dau=max_dau)
    return dg.AssetCheckResult(
        passed=result.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.describe(),
        metadata={
            "suite": result.suite,
            "rows": len(kpis),
            "max_dau": max_dau,
            "evaluated": len(result.outcomes),
            "failed_expectations": ", ".join(result.failed) or "none",
            "results": dg.MetadataValue.json(
                [
                    {"expectation": o.name, "success": o.success, "observed": o.observed}
                    for o in result.outcomes
                ]
            ),
        },
    )


CHECKS = [gx_exec_daily_kpis]
