"""Evidently drift on user-day frames: a shifted column drifts, a stable one does not."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from quality import drift

D0 = dt.date(2026, 3, 1)


def _user_daily(
    days: int = 28, per_day: int = 60, shift_from: int = 21, seed: int = 1
) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(days):
        for u in range(per_day):
            shifted = d >= shift_from
            rows.append(
                {
                    "user_id": f"u{u}",
                    "activity_date": D0 + dt.timedelta(days=d),
                    "events": int(rng.poisson(10)),
                    "sessions": int(rng.poisson(2)) + 1,
                    "workouts_completed": int(rng.poisson(4 if shifted else 1)),
                    "screens_viewed": int(rng.poisson(6)),
                    "recommendations_shown": int(rng.poisson(3)),
                    "recommendations_accepted": int(rng.poisson(1)),
                    "revenue": float(rng.exponential(5)),
                }
            )
    return pl.DataFrame(rows).with_columns(pl.col("events") + 1)


def test_windows_split_the_last_week_from_the_three_before():
    ref, cur, ref_w, cur_w = drift.split_windows(_user_daily())
    assert cur_w == (D0 + dt.timedelta(days=21), D0 + dt.timedelta(days=28))
    assert ref_w == (D0, D0 + dt.timedelta(days=21))
    assert (ref.height, cur.height) == (21 * 60, 7 * 60)


def test_shifted_column_drifts_and_stable_ones_do_not(tmp_path):
    html = tmp_path / "drift.html"
    result = drift.user_daily_drift(_user_daily(), html_path=html)
    assert "workouts_completed" in result.drifted_columns
    assert "screens_viewed" not in result.drifted_columns
    assert "events" not in result.drifted_columns
    assert 0 < result.drift_share < 0.5
    assert result.drifted_count == len(result.drifted_columns)
    assert html.stat().st_size > 10_000
    # methods and thresholds come from Evidently's result, not assumptions
    assert all(c.method and c.threshold > 0 for c in result.columns)


def test_p_value_and_distance_directions():
    assert drift._is_drifted("K-S p_value", 0.01, 0.05)
    assert not drift._is_drifted("K-S p_value", 0.5, 0.05)
    assert drift._is_drifted("Wasserstein distance (normed)", 0.2, 0.1)
    assert not drift._is_drifted("Wasserstein distance (normed)", 0.05, 0.1)
