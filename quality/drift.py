"""Data drift of user-level daily behaviour (Evidently 0.7 ``DataDriftPreset``).

The reference window is the ``reference_days`` before the current window, the current window the
last ``current_days`` of ``fct_user_daily``. Each row is one active user-day. Evidently picks the test
per column from the sample size (K-S p-value under 1,000 reference rows, normed Wasserstein above),
so each column's method and threshold are read back from the result, never assumed.

``evidently`` takes ~9 s to import and phones home unless told not to: it is imported lazily, with
``DO_NOT_TRACK=1`` set first.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    import pandas as pd

DRIFT_FEATURES = (
    "events",
    "sessions",
    "workouts_completed",
    "screens_viewed",
    "recommendations_shown",
    "recommendations_accepted",
    "revenue",
)


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    method: str
    threshold: float
    score: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    drift_share: float
    drifted_count: int
    columns: list[ColumnDrift] = field(default_factory=list)
    reference_rows: int = 0
    current_rows: int = 0
    reference_window: tuple[dt.date, dt.date] | None = None
    current_window: tuple[dt.date, dt.date] | None = None

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]


def split_windows(
    user_daily: pl.DataFrame, current_days: int = 7, reference_days: int = 21
) -> tuple[pl.DataFrame, pl.DataFrame, tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """(reference, current, reference window, current window) of active user-days.

    Windows are half-open ``[start, end)``; the current window ends the day after the last data.
    """
    daily = user_daily.with_columns(pl.col("activity_date").cast(pl.Date)).filter(
        pl.col("events") > 0
    )
    if daily.is_empty():
        raise ValueError("fct_user_daily has no activity: nothing to compare")
    end = daily["activity_date"].max() + dt.timedelta(days=1)  # type: ignore[operator]
    cur_start = end - dt.timedelta(days=current_days)
    ref_start = cur_start - dt.timedelta(days=reference_days)
    cols = [c for c in DRIFT_FEATURES if c in daily.columns]

    def window(lo: dt.date, hi: dt.date) -> pl.DataFrame:
        return daily.filter(pl.col("activity_date").is_between(lo, hi, closed="left")).select(
            pl.col(cols).cast(pl.Float64).fill_null(0)
        )

    return (
        window(ref_start, cur_start),
        window(cur_start, end),
        (ref_start, cur_start),
        (cur_start, end),
    )


def _is_drifted(method: str, score: float, threshold: float) -> bool:
    # p-value tests drift when the p-value is *below* the threshold; distances when *above*.
    if "p_value" in method.lower().replace("-", "_"):
        return score < threshold
    return score >= threshold


def parse_snapshot(snapshot_dict: dict[str, Any]) -> tuple[float, int, list[ColumnDrift]]:
    """Drift share, drifted count and per-column results from ``Snapshot.dict()``."""
    share, count, columns = 0.0, 0, []
    for metric in snapshot_dict.get("metrics", []):
        config = metric.get("config", {})
        kind = config.get("type", "")
        if kind.endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
            count = int(metric["value"]["count"])
        elif kind.endswith("ValueDrift"):
            method, threshold = str(config.get("method")), float(config.get("threshold"))
            score = float(metric["value"])
            columns.append(
                ColumnDrift(
                    column=str(config.get("column")),
                    method=method,
                    threshold=threshold,
                    score=score,
                    drifted=_is_drifted(method, score, threshold),
                )
            )
    return share, count, columns


def run_drift(
    reference: pd.DataFrame | pl.DataFrame,
    current: pd.DataFrame | pl.DataFrame,
    html_path: Path | None = None,
) -> DriftResult:
    """Run ``DataDriftPreset`` (current first, as Evidently 0.7 wants) and optionally save HTML."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")
    from evidently import Report
    from evidently.presets import DataDriftPreset

    ref = reference.to_pandas() if isinstance(reference, pl.DataFrame) else reference
    cur = current.to_pandas() if isinstance(current, pl.DataFrame) else current
    if ref.empty or cur.empty:
        raise ValueError(
            f"drift needs rows in both windows (reference {len(ref)}, current {len(cur)})"
        )
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html_path))
    share, count, columns = parse_snapshot(snapshot.dict())
    return DriftResult(
        drift_share=share,
        drifted_count=count,
        columns=columns,
        reference_rows=len(ref),
        current_rows=len(cur),
    )


def user_daily_drift(
    user_daily: pl.DataFrame,
    html_path: Path | None = None,
    current_days: int = 7,
    reference_days: int = 21,
) -> DriftResult:
    """Drift of the last ``current_days`` of user-day behaviour against the ``reference_days`` before."""
    reference, current, ref_window, cur_window = split_windows(
        user_daily, current_days, reference_days
    )
    result = run_drift(reference, current, html_path)
    return DriftResult(
        drift_share=result.drift_share,
        drifted_count=result.drifted_count,
        columns=result.columns,
        reference_rows=result.reference_rows,
        current_rows=result.current_rows,
        reference_window=ref_window,
        current_window=cur_window,
    )
