"""Read-only access to the published gold marts for the dashboards.

Dashboards read the current gold publication (``lake.gold``: immutable Parquet files behind an
atomic pointer) through an in-memory DuckDB connection: they never open the warehouse's .duckdb
file, whose one writer is dbt, and a publication never changes under a reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from core.settings import Settings
from lake import gold
from lake.gold import MartNotPublished  # re-exported: the pages catch it

__all__ = ["KPI_COLUMNS", "Kpi", "MartNotPublished", "kpi_summary", "period_bounds", "read_mart"]

KPI_COLUMNS = ("dau", "new_users", "revenue", "workouts_completed")


@dataclass(frozen=True)
class _GoldDir:
    """What ``lake.gold`` needs of the settings: where gold is."""

    gold_dir: Path


def read_mart(gold_dir: Path | Settings, name: str) -> pl.DataFrame:
    """Mart ``name`` of the current publication (of ``gold_dir``, or of the settings' gold dir).

    Raises ``MartNotPublished`` (saying to run `pulse materialize`) when there is none yet."""
    where = gold_dir if isinstance(gold_dir, Settings) else _GoldDir(Path(gold_dir))
    path = gold.mart_path(where, name)  # type: ignore[arg-type]
    with duckdb.connect() as con:
        return con.sql("select * from read_parquet(?)", params=[str(path)]).pl()


@dataclass(frozen=True)
class Kpi:
    name: str
    current: float
    previous: float | None

    @property
    def change(self) -> float | None:
        """Relative change against the previous period; None when there is no comparable base."""
        if self.previous is None or self.previous == 0:
            return None
        return (self.current - self.previous) / self.previous


def period_bounds(last_day: date, period_days: int) -> tuple[date, date, date]:
    """(previous_start, current_start, end_exclusive) of two back-to-back periods ending on
    ``last_day``."""
    end = last_day + timedelta(days=1)
    current_start = end - timedelta(days=period_days)
    return current_start - timedelta(days=period_days), current_start, end


def kpi_summary(daily: pl.DataFrame, period_days: int) -> list[Kpi]:
    """Headline KPIs for the last ``period_days`` against the period before.

    DAU is averaged over the period (a sum of daily uniques would double-count people); the
    others are totals. The previous period is None when the data does not cover it entirely.
    """
    if daily.is_empty():
        return []
    last_day = daily["kpi_date"].max()
    first_day = daily["kpi_date"].min()
    prev_start, cur_start, end = period_bounds(last_day, period_days)

    def aggregate(start: date, stop: date) -> dict[str, float]:
        window = daily.filter((pl.col("kpi_date") >= start) & (pl.col("kpi_date") < stop))
        return {
            "dau": float(window["dau"].mean() or 0.0),
            "new_users": float(window["new_users"].sum()),
            "revenue": float(window["revenue"].sum()),
            "workouts_completed": float(window["workouts_completed"].sum()),
        }

    current = aggregate(cur_start, end)
    previous = aggregate(prev_start, cur_start) if prev_start >= first_day else None
    return [Kpi(name, current[name], previous[name] if previous else None) for name in KPI_COLUMNS]
