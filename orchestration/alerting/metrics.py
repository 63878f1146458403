"""Metric rules on a mart: the number a rule watches and whether it breaches, as pure functions of
a polars DataFrame (the sensor reads the mart with ``lake.gold.read_mart``).

Threshold conditions compare ``aggregate(column)`` over the window with the threshold. ``anomaly``
sums the column per period (``time_column`` value) and scores the newest period against the
earlier ones in the window: z = (x − median) / (1.4826 · MAD), the median absolute deviation
floored at 1 % of |median| so a flat history does not make every wiggle an anomaly. Fewer than
``min_history`` earlier periods: no verdict (not enough history to know what is normal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestration.alerting.rules import MetricSource, format_duration

if TYPE_CHECKING:
    import polars as pl


class MetricError(ValueError):
    """The mart does not have what the rule reads (a column, a time axis)."""


@dataclass(frozen=True)
class Reading:
    group: str | None  # the group_by value, None without group_by
    value: float | None  # None: no rows / not enough history
    breached: bool
    period: object | None  # the newest time_column value
    detail: str


def _window(df: pl.DataFrame, src: MetricSource) -> pl.DataFrame:
    import polars as pl

    if src.time_column is None or src.window is None or df.is_empty():
        return df
    newest = df[src.time_column].max()
    window = src.window
    if isinstance(newest, dt.datetime):
        start = newest - window
    else:  # a date axis: whole days
        start = newest - dt.timedelta(days=max(window.days, 1))
    return df.filter(pl.col(src.time_column) > start)


def _aggregate(df: pl.DataFrame, src: MetricSource) -> float | None:
    import polars as pl

    if df.is_empty():
        return None
    if src.aggregate == "count":
        return float(df[src.column].count())
    if src.aggregate == "last":
        newest = df[src.time_column].max()
        value = df.filter(pl.col(src.time_column) == newest)[src.column].sum()
    else:
        value = getattr(df[src.column], src.aggregate)()
    return None if value is None else float(value)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"


def _anomaly(df: pl.DataFrame, src: MetricSource) -> tuple[float | None, bool, object, str]:
    import polars as pl

    series = (
        df.group_by(src.time_column).agg(pl.col(src.column).sum().alias("v")).sort(src.time_column)
    )
    if series.is_empty():
        return None, False, None, "no rows"
    values = series["v"].cast(pl.Float64).to_list()
    period = series[src.time_column][-1]
    latest, history = values[-1], [v for v in values[:-1] if v is not None]
    if latest is None or len(history) < src.min_history:
        return (
            latest,
            False,
            period,
            (f"{len(history)} earlier periods, {src.min_history} needed for a baseline"),
        )
    median = float(pl.Series(history).median())
    mad = float(pl.Series([abs(v - median) for v in history]).median())
    scale = max(1.4826 * mad, 0.01 * abs(median), 1e-9)
    z = (latest - median) / scale
    breached = {
        "both": abs(z) > src.sensitivity,
        "up": z > src.sensitivity,
        "down": z < -src.sensitivity,
    }[src.direction]
    detail = (
        f"{_fmt(latest)} on {period} vs a median of {_fmt(median)} over {len(history)} "
        f"earlier periods (robust z = {z:+.1f}, limit ±{src.sensitivity:g})"
    )
    return latest, breached, period, detail


def evaluate(df: pl.DataFrame, src: MetricSource) -> list[Reading]:
    """One reading per group (or one without ``group_by``)."""
    needed = [c for c in (src.column, src.time_column, src.group_by) if c is not None]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise MetricError(
            f"{'mart' if src.mart else 'table'} {src.dataset} has no column {', '.join(missing)} (it has: {', '.join(df.columns)})"
        )
    import polars as pl

    for column, value in src.where.items():
        if column not in df.columns:
            raise MetricError(f"{src.dataset} has no column {column} (named in where)")
        df = df.filter(pl.col(column) == value)
    df = _window(df, src)
    groups = (
        [(None, df)]
        if src.group_by is None
        else [(str(k[0]), g) for k, g in df.group_by(src.group_by, maintain_order=True)]
    )
    readings = []
    for group, rows in groups:
        if src.condition == "anomaly":
            value, breached, period, detail = _anomaly(rows, src)
        else:
            value = _aggregate(rows, src)
            period = (
                rows[src.time_column].max() if src.time_column and not rows.is_empty() else None
            )
            breached = value is not None and src.breached(value)
            agg = src.aggregate
            if src.window is not None:
                agg += f" over {format_duration(src.window)}"
            shown = "no rows" if value is None else _fmt(value)
            when = f" on {period}" if period is not None and src.aggregate == "last" else ""
            detail = f"{agg} {src.column} = {shown}{when} (alert when {src.condition} {_fmt(src.threshold)})"
        readings.append(Reading(group, value, breached, period, detail))
    return readings
