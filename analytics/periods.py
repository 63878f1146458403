"""Date ranges and their comparison periods, as every reader computes them.

A period is a closed range of days ``[start, end]`` (UTC). Its comparison is either the period
of the same length just before it ("previous period"), the same calendar days a year earlier
("same period last year"), or none. Comparing a period with one of another length would make
every total look like growth, so "previous" always has the same number of days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import polars as pl

CompareMode = Literal["previous_period", "previous_year", "none"]
COMPARE_MODES: dict[str, str] = {
    "previous_period": "Previous period",
    "previous_year": "Same period last year",
    "none": "No comparison",
}


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a period ends on or after it starts: {self.start} .. {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def label(self) -> str:
        if self.start == self.end:
            return self.start.strftime("%b %d, %Y")
        if self.start.year == self.end.year:
            return f"{self.start:%b %d} – {self.end:%b %d, %Y}"
        return f"{self.start:%b %d, %Y} – {self.end:%b %d, %Y}"


def _minus_one_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # Feb 29 → Feb 28
        return day.replace(year=day.year - 1, day=28)


def comparison_period(period: Period, mode: str) -> Period | None:
    """The period ``period`` is compared with under ``mode`` (None for "none")."""
    if mode == "none":
        return None
    if mode == "previous_period":
        end = period.start - dt.timedelta(days=1)
        return Period(end - dt.timedelta(days=period.days - 1), end)
    if mode == "previous_year":
        return Period(_minus_one_year(period.start), _minus_one_year(period.end))
    raise ValueError(f"unknown comparison {mode!r}: use one of {', '.join(COMPARE_MODES)}")


def shift_onto(day: dt.date, comparison: Period, period: Period) -> dt.date:
    """The day of ``period`` that ``day`` (of ``comparison``) is drawn on, for an overlay."""
    return period.start + (day - comparison.start)


def shifted_onto(column: str, comparison: Period, period: Period) -> pl.Expr:
    """``column`` (dates of ``comparison``) moved onto ``period``'s dates, as a polars
    expression: the vectorised :func:`shift_onto`, for overlaying a comparison series."""
    return pl.col(column) + pl.duration(days=(period.start - comparison.start).days)


def default_period(last_day: dt.date, first_day: dt.date, days: int = 28) -> Period:
    """The last ``days`` days of the data (fewer if the data is shorter)."""
    start = max(first_day, last_day - dt.timedelta(days=days - 1))
    return Period(start, last_day)


def relative_change(current: float | None, previous: float | None) -> float | None:
    """``(current - previous) / |previous|``; None when there is no comparable base."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)


def months_overlapping(period: Period) -> tuple[dt.date, ...]:
    """The first days of the calendar months ``period`` touches: a monthly metric (MRR movements,
    trainer commission) over a range of days covers these whole months."""
    months = []
    month = period.start.replace(day=1)
    while month <= period.end:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return tuple(months)


def months_label(months: tuple[dt.date, ...] | list[dt.date]) -> str:
    """``Feb 2026``, ``Jan – Feb 2026``, ``Dec 2025 – Jan 2026``; an en dash for none."""
    if not months:
        return "–"
    first, last = min(months), max(months)
    if first == last:
        return f"{first:%b %Y}"
    if first.year == last.year:
        return f"{first:%b} – {last:%b %Y}"
    return f"{first:%b %Y} – {last:%b %Y}"
