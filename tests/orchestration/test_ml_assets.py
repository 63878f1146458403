"""The ML assets on gold marts too short for a holdout: clear metadata, no crash."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl

from orchestration.assets.ml import churn_model
from orchestration.resources import PulseResource


def test_churn_model_skips_a_short_world_with_a_reason(pulse_settings):
    gold = pulse_settings.gold_dir
    gold.mkdir(parents=True)
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(10)]
    pl.DataFrame(
        {
            "user_id": ["u1"] * 10,
            "activity_date": days,
            "events": [3] * 10,
            "sessions": [1] * 10,
            "workouts_completed": [1] * 10,
            "screens_viewed": [2] * 10,
            "recommendations_shown": [1] * 10,
            "recommendations_accepted": [0] * 10,
            "revenue": [0.0] * 10,
        }
    ).write_parquet(gold / "fct_user_daily.parquet")
    pl.DataFrame(
        {
            "user_id": ["u1"],
            "signup_date": [days[0]],
            "acquisition_channel": ["organic"],
            "platform": ["ios"],
        }
    ).write_parquet(gold / "dim_users.parquet")

    result = churn_model(
        context=dg.build_asset_context(), pulse=PulseResource.from_settings(pulse_settings)
    )
    assert "needs at least" in result.metadata["skipped_reason"]
    assert not (gold / "churn_scores.parquet").exists()
