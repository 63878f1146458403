"""The ML assets on published gold marts too short for a holdout: clear metadata, no crash."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl

from lake import gold
from orchestration.assets.ml import churn_model
from orchestration.resources import PulseResource


def test_churn_model_skips_a_short_world_with_a_reason(pulse_settings):
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(10)]
    user_daily = pl.DataFrame(
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
    )
    users = pl.DataFrame(
        {
            "user_id": ["u1"],
            "signup_date": [days[0]],
            "acquisition_channel": ["organic"],
            "platform": ["ios"],
        }
    )
    gold.publish(
        pulse_settings,
        {"fct_user_daily": user_daily.to_arrow(), "dim_users": users.to_arrow()},
    )

    result = churn_model(
        context=dg.build_asset_context(), pulse=PulseResource.from_settings(pulse_settings)
    )
    assert "needs at least" in result.metadata["skipped_reason"]
    assert not (pulse_settings.gold_dir / "churn_scores.parquet").exists()
