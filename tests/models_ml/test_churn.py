"""Churn features, labels and the time-based holdout, on hand-built and synthetic frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from models_ml import churn

D0 = dt.date(2026, 1, 1)


def _day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def _daily(rows: list[tuple[str, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "activity_date": [_day(r[1]) for r in rows],
            "events": [r[2] for r in rows],
            "sessions": [1] * len(rows),
            "workouts_completed": [0] * len(rows),
            "screens_viewed": [2] * len(rows),
            "recommendations_shown": [1] * len(rows),
            "recommendations_accepted": [0] * len(rows),
            "revenue": [0.0] * len(rows),
        }
    )


def _users(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": ids,
            "signup_date": [D0] * len(ids),
            "acquisition_channel": ["organic"] * len(ids),
            "platform": ["ios"] * len(ids),
        }
    )


def test_labels_and_population_on_hand_built_frame():
    snapshot = _day(30)
    daily = _daily(
        [
            ("stays", 25, 3),  # active in lookback, active in horizon -> 0
            ("stays", 31, 1),
            ("leaves", 29, 5),  # active in lookback, silent in horizon -> 1
            ("leaves", 44, 2),  # day 44 is outside [30, 44): still churned
            ("old", 1, 4),  # outside the 28-day lookback -> not in population
            ("old", 32, 1),
            ("zero", 20, 0),  # a row with no events is not activity
        ]
    )
    feats = churn.build_features(daily, _users(["stays", "leaves", "old", "zero"]), snapshot)
    assert feats["user_id"].to_list() == ["leaves", "stays"]
    by_user = {r["user_id"]: r for r in feats.iter_rows(named=True)}
    assert by_user["leaves"][churn.LABEL] == 1
    assert by_user["stays"][churn.LABEL] == 0
    assert by_user["leaves"]["days_since_last_active"] == 1
    assert by_user["stays"]["days_since_last_active"] == 5
    assert by_user["stays"]["active_days_last_7"] == 1
    assert by_user["stays"]["tenure_days"] == 30
    # the horizon event on day 31 never leaks into features
    assert by_user["stays"]["total_events"] == 3


def test_snapshot_plan_keeps_training_labels_before_the_test_snapshot():
    train, test = churn.plan_snapshots(_day(0), _day(60), lookback_days=28, horizon_days=14)
    assert test == _day(46)
    assert all(s + dt.timedelta(days=14) <= test for s in train)
    assert churn.plan_snapshots(_day(0), _day(30), 28, 14) is None


def synthetic_world(
    n_users: int = 400, days: int = 70, seed: int = 3
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Users whose engagement drives both their activity and their hazard of churning."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_users):
        engagement = rng.uniform(0.05, 0.9)
        start = int(rng.integers(0, 20))
        hazard = 0.08 * (1 - engagement) ** 2
        for d in range(start, days):
            if rng.random() < hazard:
                break
            if rng.random() < engagement:
                rows.append((f"u{i}", d, int(rng.integers(1, 20))))
    return _daily(rows), _users([f"u{i}" for i in range(n_users)])


def test_churn_model_learns_activity_driven_churn():
    daily, users = synthetic_world()
    result = churn.train_and_evaluate(daily, users)
    assert result.skipped_reason is None, result.skipped_reason
    assert result.auc is not None and result.auc > 0.7, result.summary()
    assert result.test_snapshot == _day(70 - 14)
    assert set(result.feature_importance) == set(churn.FEATURES)
    scores = churn.score_latest(result.model, daily, users)
    assert scores.height > 0
    assert scores["churn_probability"].is_between(0, 1).all()


def test_short_world_is_skipped_with_a_reason(tmp_path):
    daily, users = synthetic_world(n_users=50, days=20)
    result = churn.train_and_evaluate(daily, users)
    assert result.model is None
    assert "needs at least" in result.skipped_reason
    with pytest.raises(ValueError, match="no model"):
        churn.save_model(result, tmp_path)


def test_saved_model_round_trips(tmp_path):
    import lightgbm as lgb

    daily, users = synthetic_world(n_users=200, days=60)
    result = churn.train_and_evaluate(daily, users)
    path = churn.save_model(result, tmp_path)
    loaded = lgb.Booster(model_file=str(path))
    feats = churn.build_features(daily, users, _day(46))
    np.testing.assert_allclose(
        churn.predict(loaded, feats).to_numpy(), churn.predict(result.model, feats).to_numpy()
    )
