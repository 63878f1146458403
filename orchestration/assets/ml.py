"""Python assets over the gold marts: the churn model and the behaviour drift report.

Both run after ``gold_publication`` and read the published marts through ``lake.gold`` (one pinned
publication per asset, never the warehouse .duckdb: one-writer lock).
"""

import dagster as dg
from dagster import AssetExecutionContext

from lake import gold
from orchestration.assets.publish import GOLD_PUBLICATION
from orchestration.resources import PulseResource

FCT_USER_DAILY = dg.AssetKey("fct_user_daily")
DIM_USERS = dg.AssetKey("dim_users")


@dg.asset(
    group_name="ml",
    kinds={"lightgbm", "python"},
    deps=[FCT_USER_DAILY, DIM_USERS, GOLD_PUBLICATION],
    description=(
        "LightGBM churn model (no activity in the next 14 days among users active in the last 28), "
        "evaluated on a time-based holdout; writes the model and gold/churn_scores.parquet."
    ),
)
def churn_model(context: AssetExecutionContext, pulse: PulseResource) -> dg.MaterializeResult:
    from models_ml import churn

    settings = pulse.settings()
    with gold.pinned(settings) as publication:  # both marts from one publication
        user_daily = gold.read_mart(settings, "fct_user_daily")
        users = gold.read_mart(settings, "dim_users")
    result = churn.train_and_evaluate(user_daily, users)
    metadata: dict[str, object] = {
        "train_rows": result.train_rows,
        "test_rows": result.test_rows,
        "train_snapshots": ", ".join(d.isoformat() for d in result.train_snapshots),
        "test_snapshot": result.test_snapshot.isoformat() if result.test_snapshot else "",
        "publication_id": publication.id,
    }
    if result.model is None:
        context.log.warning(f"churn model not trained: {result.skipped_reason}")
        return dg.MaterializeResult(
            metadata={**metadata, "skipped_reason": result.skipped_reason or ""}
        )
    model_path = churn.save_model(result, settings.models_dir / "churn")
    scores = churn.score_latest(result.model, user_daily, users)
    settings.gold_dir.mkdir(parents=True, exist_ok=True)
    scores_path = settings.gold_dir / "churn_scores.parquet"
    tmp = scores_path.with_suffix(".parquet.tmp")
    scores.write_parquet(tmp)
    tmp.replace(scores_path)  # readers see the old file or the new one, never half of one
    context.log.info(f"churn AUC {result.auc:.3f} on {result.test_rows} held-out users")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "auc": dg.MetadataValue.float(float(result.auc or 0.0)),
            "train_churn_rate": result.train_churn_rate,
            "test_churn_rate": result.test_churn_rate,
            "feature_importance": dg.MetadataValue.json(result.feature_importance),
            "model_path": dg.MetadataValue.path(str(model_path)),
            "scores_path": dg.MetadataValue.path(str(scores_path)),
            "scored_users": scores.height,
        }
    )


@dg.asset(
    group_name="ml",
    kinds={"evidently", "python"},
    deps=[FCT_USER_DAILY, GOLD_PUBLICATION],
    description=(
        "Evidently data-drift report of user-day behaviour: the last 7 days against the 21 before."
    ),
)
def drift_report(context: AssetExecutionContext, pulse: PulseResource) -> dg.MaterializeResult:
    from quality.drift import user_daily_drift

    settings = pulse.settings()
    user_daily = gold.read_mart(settings, "fct_user_daily")
    html = settings.reports_dir / "drift_report.html"
    try:
        result = user_daily_drift(user_daily, html_path=html)
    except ValueError as exc:  # an empty window: say so rather than fail the run
        context.log.warning(f"drift report skipped: {exc}")
        return dg.MaterializeResult(metadata={"skipped_reason": str(exc)})
    return dg.MaterializeResult(
        metadata={
            "drift_share": dg.MetadataValue.float(result.drift_share),
            "drifted_columns": ", ".join(result.drifted_columns) or "none",
            "drifted_count": result.drifted_count,
            "reference_rows": result.reference_rows,
            "current_rows": result.current_rows,
            "reference_window": " → ".join(d.isoformat() for d in result.reference_window or ()),
            "current_window": " → ".join(d.isoformat() for d in result.current_window or ()),
            "columns": dg.MetadataValue.json(
                {
                    c.column: {
                        "method": c.method,
                        "threshold": c.threshold,
                        "score": c.score,
                        "drifted": c.drifted,
                    }
                    for c in result.columns
                }
            ),
            "report_path": dg.MetadataValue.path(str(html)),
        }
    )


ML_ASSETS = [churn_model, drift_report]
