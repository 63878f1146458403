"""Churn model: who of the recently active members will go quiet?

Definitions (all dates are UTC activity dates from ``fct_user_daily``):

- a *snapshot* is a date ``s``; the model only sees data strictly before ``s``;
- the *population* at ``s`` is every user with at least one event in the lookback window
  ``[s - lookback_days, s)``;
- the label ``churned`` is 1 when the user has no activity in the horizon ``[s, s + horizon_days)``.

The holdout is by time, never by user: the model is trained on earlier snapshots whose horizons end
on or before the evaluation snapshot, and its AUC is measured on the latest snapshot whose horizon is
fully observed. Attributes of ``dim_users`` that describe the *current* state (plan, is_subscriber,
total_revenue) would leak the future into a past snapshot, so only time-invariant attributes
(acquisition channel, platform, signup date) are used.

Pure functions over polars frames; LightGBM is imported lazily (~4.5 s import).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    import lightgbm
    import pandas as pd

ACTIVITY_COLUMNS = (
    "events",
    "sessions",
    "workouts_completed",
    "screens_viewed",
    "recommendations_shown",
    "recommendations_accepted",
    "revenue",
)
CATEGORICAL_FEATURES = ("acquisition_channel", "platform")
NUMERIC_FEATURES = (
    "active_days",
    "active_days_last_7",
    "active_days_prev_21",
    "days_since_last_active",
    "tenure_days",
    *(f"total_{c}" for c in ACTIVITY_COLUMNS),
    "events_per_active_day",
    "recommendation_accept_rate",
    "activity_trend",
)
FEATURES = (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES)
LABEL = "churned"

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "seed": 7,
    "num_threads": 2,
    "verbose": -1,
}
NUM_BOOST_ROUND = 150


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def activity_bounds(user_daily: pl.DataFrame) -> tuple[dt.date, dt.date] | None:
    """First activity date and the day *after* the last one (exclusive end), or None if empty."""
    active = user_daily.filter(pl.col("events") > 0)
    if active.is_empty():
        return None
    lo, hi = active.select(
        pl.col("activity_date").min().alias("lo"), pl.col("activity_date").max().alias("hi")
    ).row(0)
    return _as_date(lo), _as_date(hi) + dt.timedelta(days=1)


def build_features(
    user_daily: pl.DataFrame,
    users: pl.DataFrame,
    snapshot_date: dt.date,
    lookback_days: int = 28,
    horizon_days: int = 14,
) -> pl.DataFrame:
    """One row per user active in ``[snapshot - lookback, snapshot)``: features, plus ``churned``.

    ``churned`` is 1 when the user has no event in ``[snapshot, snapshot + horizon)``. Whether that
    horizon is fully observed is the caller's business (see :func:`train_and_evaluate`); when
    scoring "now" the label is simply meaningless.
    """
    snapshot_date = _as_date(snapshot_date)
    start = snapshot_date - dt.timedelta(days=lookback_days)
    end_horizon = snapshot_date + dt.timedelta(days=horizon_days)
    recent_cut = snapshot_date - dt.timedelta(days=7)

    daily = user_daily.with_columns(pl.col("activity_date").cast(pl.Date)).filter(
        pl.col("events") > 0
    )
    window = daily.filter(pl.col("activity_date").is_between(start, snapshot_date, closed="left"))
    agg = window.group_by("user_id").agg(
        pl.col("activity_date").n_unique().alias("active_days"),
        (pl.col("activity_date") >= recent_cut).sum().alias("active_days_last_7"),
        (pl.col("activity_date") < recent_cut).sum().alias("active_days_prev_21"),
        pl.col("activity_date").max().alias("last_active"),
        *(
            pl.col(c).cast(pl.Float64).fill_null(0).sum().alias(f"total_{c}")
            for c in ACTIVITY_COLUMNS
        ),
    )
    future_active = (
        daily.filter(pl.col("activity_date").is_between(snapshot_date, end_horizon, closed="left"))
        .select("user_id")
        .unique()
        .with_columns(pl.lit(True).alias("_active_in_horizon"))
    )
    user_attrs = users.select(
        "user_id",
        pl.col("signup_date").cast(pl.Date),
        *(pl.col(c).cast(pl.String) for c in CATEGORICAL_FEATURES),
    )
    prev_weeks = max(lookback_days - 7, 1) / 7
    return (
        agg.join(user_attrs, on="user_id", how="left")
        .join(future_active, on="user_id", how="left")
        .with_columns(
            pl.lit(snapshot_date).alias("snapshot_date"),
            (pl.lit(snapshot_date) - pl.col("last_active"))
            .dt.total_days()
            .alias("days_since_last_active"),
            (pl.lit(snapshot_date) - pl.col("signup_date"))
            .dt.total_days()
            .fill_null(lookback_days)
            .alias("tenure_days"),
            (pl.col("total_events") / pl.col("active_days")).alias("events_per_active_day"),
            pl.when(pl.col("total_recommendations_shown") > 0)
            .then(pl.col("total_recommendations_accepted") / pl.col("total_recommendations_shown"))
            .otherwise(None)
            .alias("recommendation_accept_rate"),
            # active days in the last week minus the weekly average of the weeks before
            (pl.col("active_days_last_7") - pl.col("active_days_prev_21") / prev_weeks).alias(
                "activity_trend"
            ),
            pl.col("_active_in_horizon").is_null().cast(pl.Int8).alias(LABEL),
            *(pl.col(c).fill_null("unknown") for c in CATEGORICAL_FEATURES),
        )
        .select("user_id", "snapshot_date", *FEATURES, LABEL)
        .sort("user_id")
    )


def _to_pandas(features: pl.DataFrame) -> pd.DataFrame:
    frame = features.select(FEATURES).to_pandas()
    for c in CATEGORICAL_FEATURES:
        frame[c] = frame[c].astype("category")
    return frame


@dataclass
class ChurnResult:
    """What a training run produced. ``skipped_reason`` is set (and ``model`` None) when the world
    is too short or too uniform for an honest time-based holdout."""

    skipped_reason: str | None = None
    model: lightgbm.Booster | None = None
    auc: float | None = None
    train_rows: int = 0
    test_rows: int = 0
    train_snapshots: list[dt.date] = field(default_factory=list)
    test_snapshot: dt.date | None = None
    train_churn_rate: float | None = None
    test_churn_rate: float | None = None
    feature_importance: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "skipped_reason": self.skipped_reason,
            "auc": self.auc,
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "train_snapshots": [d.isoformat() for d in self.train_snapshots],
            "test_snapshot": self.test_snapshot.isoformat() if self.test_snapshot else None,
            "train_churn_rate": self.train_churn_rate,
            "test_churn_rate": self.test_churn_rate,
            "feature_importance": self.feature_importance,
        }


def plan_snapshots(
    first_day: dt.date,
    end_exclusive: dt.date,
    lookback_days: int,
    horizon_days: int,
    min_history_days: int = 7,
    max_train_snapshots: int = 4,
) -> tuple[list[dt.date], dt.date] | None:
    """Training snapshots (latest first) and the test snapshot, or None if the world is too short.

    The test snapshot is the latest one whose horizon is fully observed; every training snapshot's
    horizon ends on or before it, so no training label peeks into the evaluation period.
    """
    test = end_exclusive - dt.timedelta(days=horizon_days)
    train: list[dt.date] = []
    snap = test - dt.timedelta(days=horizon_days)
    while len(train) < max_train_snapshots and (snap - first_day).days >= min_history_days:
        train.append(snap)
        snap -= dt.timedelta(days=7)
    if not train:
        return None
    return train, test


def _fit(train: pl.DataFrame, params: dict[str, Any]) -> lightgbm.Booster:
    import lightgbm as lgb

    data = lgb.Dataset(
        _to_pandas(train),
        label=train[LABEL].to_numpy(),
        categorical_feature=list(CATEGORICAL_FEATURES),
        free_raw_data=False,
    )
    return lgb.train(params, data, num_boost_round=NUM_BOOST_ROUND)


def predict(model: lightgbm.Booster, features: pl.DataFrame) -> pl.Series:
    """Churn probability for each feature row."""
    return pl.Series("churn_probability", model.predict(_to_pandas(features)))


def train_and_evaluate(
    user_daily: pl.DataFrame,
    users: pl.DataFrame,
    lookback_days: int = 28,
    horizon_days: int = 14,
    params: dict[str, Any] | None = None,
    min_rows: int = 30,
) -> ChurnResult:
    """Train on earlier snapshots, evaluate AUC on the latest fully observed one."""
    from sklearn.metrics import roc_auc_score

    params = {**DEFAULT_PARAMS, **(params or {})}
    bounds = activity_bounds(user_daily)
    if bounds is None:
        return ChurnResult(skipped_reason="no activity in fct_user_daily")
    first_day, end_exclusive = bounds
    plan = plan_snapshots(first_day, end_exclusive, lookback_days, horizon_days)
    span = (end_exclusive - first_day).days
    if plan is None:
        return ChurnResult(
            skipped_reason=(
                f"world spans {span} days; a time-based holdout with a {horizon_days}-day horizon "
                f"needs at least {2 * horizon_days + 7}"
            )
        )
    train_snaps, test_snap = plan
    train = pl.concat(
        [build_features(user_daily, users, s, lookback_days, horizon_days) for s in train_snaps]
    )
    test = build_features(user_daily, users, test_snap, lookback_days, horizon_days)
    result = ChurnResult(
        train_rows=train.height,
        test_rows=test.height,
        train_snapshots=train_snaps,
        test_snapshot=test_snap,
    )
    for name, frame in (("training", train), ("test", test)):
        if frame.height < min_rows:
            result.skipped_reason = f"{name} set has {frame.height} rows (< {min_rows})"
            return result
        if frame[LABEL].n_unique() < 2:
            result.skipped_reason = f"{name} set has a single class (churned={frame[LABEL][0]})"
            return result
    result.train_churn_rate = float(train[LABEL].mean())  # type: ignore[arg-type]
    result.test_churn_rate = float(test[LABEL].mean())  # type: ignore[arg-type]
    model = _fit(train, params)
    result.auc = float(roc_auc_score(test[LABEL].to_numpy(), predict(model, test).to_numpy()))
    gains = model.feature_importance(importance_type="gain")
    total = float(gains.sum()) or 1.0
    result.feature_importance = {
        name: round(float(g) / total, 4)
        for name, g in sorted(zip(model.feature_name(), gains, strict=True), key=lambda kv: -kv[1])
    }
    result.model = model
    return result


def score_latest(
    model: lightgbm.Booster,
    user_daily: pl.DataFrame,
    users: pl.DataFrame,
    lookback_days: int = 28,
    horizon_days: int = 14,
) -> pl.DataFrame:
    """Churn probability of every currently active user, snapshot = the day after the last data."""
    bounds = activity_bounds(user_daily)
    if bounds is None:
        return pl.DataFrame(
            schema={"user_id": pl.String, "snapshot_date": pl.Date, "churn_probability": pl.Float64}
        )
    features = build_features(user_daily, users, bounds[1], lookback_days, horizon_days)
    return features.select("user_id", "snapshot_date").with_columns(predict(model, features))


def save_model(result: ChurnResult, directory: Path) -> Path:
    """Write the model (LightGBM text format) and its evaluation summary; return the model path."""
    if result.model is None:
        raise ValueError(f"no model to save: {result.skipped_reason}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "churn_model.txt"
    result.model.save_model(str(path))
    (directory / "churn_model.json").write_text(json.dumps(result.summary(), indent=2))
    return path
