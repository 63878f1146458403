"""Great Expectations suite on the published ``exec_daily_kpis`` mart, as a blocking asset check:
a mart that breaks it fails the run instead of flowing on to dashboards and reports."""

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
    import polars as pl

    from quality.gx_suites import validate_exec_daily_kpis

    settings = pulse.settings()
    path = settings.gold_dir / "exec_daily_kpis.parquet"
    if not path.exists():
        return dg.AssetCheckResult(
            passed=False,
            metadata={"error": f"{path} does not exist"},
            description="the mart was not published",
        )
    kpis = pl.read_parquet(path).to_pandas()
    users_path = settings.gold_dir / "dim_users.parquet"
    max_dau = (
        pl.scan_parquet(users_path).select(pl.len()).collect().item()
        if users_path.exists()
        else None
    )
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
