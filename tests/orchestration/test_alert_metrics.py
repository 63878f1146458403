"""Metric rules as pure functions of a mart: windows, aggregates, thresholds and the robust
anomaly score."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from orchestration.alerting.metrics import MetricError, evaluate
from orchestration.alerting.rules import MetricSource

START = dt.date(2026, 1, 1)


def _series(values: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"day": [START + dt.timedelta(days=i) for i in range(len(values))], "dau": values}
    )


def _source(**fields) -> MetricSource:
    return MetricSource(kind="metric", mart="m", column="dau", time_column="day", **fields)


def test_threshold_on_the_newest_value_and_on_a_windowed_sum():
    df = _series([10, 20, 30, 40])
    [last] = evaluate(df, _source(condition="<", threshold=50))
    assert (last.value, last.breached, last.period) == (40, True, START + dt.timedelta(days=3))
    [week] = evaluate(df, _source(aggregate="sum", window="2d", condition=">", threshold=69))
    assert (week.value, week.breached) == (70, True)  # the last 2 days only: 30 + 40
    [mean] = evaluate(df, _source(aggregate="mean", condition=">=", threshold=26))
    assert (mean.value, mean.breached) == (25, False)


def test_anomaly_flags_a_drop_but_not_normal_noise():
    normal = [100, 104, 97, 101, 99, 103, 98, 102, 100, 96]
    [quiet] = evaluate(_series([*normal, 101]), _source(condition="anomaly"))
    assert not quiet.breached and "robust z = +0.3" in quiet.detail  # MAD 2: (101 - 100) / 2.97
    [drop] = evaluate(_series([*normal, 60]), _source(condition="anomaly"))
    assert drop.breached and "60 on 2026-01-11 vs a median of 100" in drop.detail
    [spike_ignored] = evaluate(
        _series([*normal, 160]), _source(condition="anomaly", direction="down")
    )
    assert not spike_ignored.breached


def test_anomaly_needs_enough_history_and_tolerates_a_flat_one():
    [young] = evaluate(_series([100, 100, 5]), _source(condition="anomaly"))
    assert not young.breached and "2 earlier periods, 7 needed" in young.detail
    flat = [50.0] * 10
    [wiggle] = evaluate(_series([*flat, 51]), _source(condition="anomaly"))
    assert not wiggle.breached  # MAD 0: floored at 1 % of the median, 51 is z = +1.3
    [crash] = evaluate(_series([*flat, 10]), _source(condition="anomaly"))
    assert crash.breached


def test_group_by_scores_each_group_and_missing_columns_are_named():
    df = pl.concat(
        [
            _series([100.0] * 8 + [101.0]).with_columns(pl.lit("ios").alias("platform")),
            _series([80.0, 82, 79, 81, 80, 83, 78, 80, 20]).with_columns(
                pl.lit("android").alias("platform")
            ),
        ]
    )
    readings = {
        r.group: r.breached for r in evaluate(df, _source(condition="anomaly", group_by="platform"))
    }
    assert readings == {"ios": False, "android": True}
    with pytest.raises(MetricError, match="mart m has no column platfrom"):
        evaluate(df, _source(condition="anomaly", group_by="platfrom"))
