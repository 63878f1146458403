"""Read-only access to the published gold marts for the dashboards.

Dashboards read the Parquet files dbt publishes under ``<lake>/gold``, through an in-memory DuckDB
connection: they never open the warehouse's .duckdb file, whose one writer is dbt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

KPI_COLUMNS = ("dau", "new_users", "revenue", "workouts_completed")


class MartNotPublished(FileNotFoundError):
    """The mart has not been materialized yet; the message says how to build it."""


def read_mart(gold_dir: Path, name: str) -> pl.DataFrame:
    path = gold_dir / f"{name}.parquet"
    if not path.exists():
        raise MartNotPublished(
            f"mart {name!r} is not published yet ({path} is missing): "
            "run `pulse materialize` (or `make demo`) first"
        )
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
