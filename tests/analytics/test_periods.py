"""Comparison periods: same length just before, or the same days a year earlier."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.periods import Period, comparison_period, default_period, relative_change, shift_onto

D = dt.date


def test_previous_period_has_the_same_number_of_days_and_ends_the_day_before():
    period = Period(D(2026, 2, 1), D(2026, 2, 28))
    previous = comparison_period(period, "previous_period")
    assert previous == Period(D(2026, 1, 4), D(2026, 1, 31)) and previous.days == period.days == 28


def test_previous_year_keeps_calendar_days_and_maps_feb_29():
    assert comparison_period(Period(D(2028, 2, 1), D(2028, 2, 29)), "previous_year") == Period(
        D(2027, 2, 1), D(2027, 2, 28)
    )
    assert comparison_period(Period(D(2026, 3, 1), D(2026, 3, 7)), "none") is None
    with pytest.raises(ValueError, match="unknown comparison"):
        comparison_period(Period(D(2026, 3, 1), D(2026, 3, 7)), "yesterday")


def test_period_rules_and_labels():
    with pytest.raises(ValueError):
        Period(D(2026, 3, 2), D(2026, 3, 1))
    assert Period(D(2026, 3, 1), D(2026, 3, 1)).label() == "Mar 01, 2026"
    assert Period(D(2025, 12, 30), D(2026, 1, 2)).label() == "Dec 30, 2025 – Jan 02, 2026"
    assert default_period(D(2026, 3, 10), D(2026, 3, 1)) == Period(D(2026, 3, 1), D(2026, 3, 10))
    assert default_period(D(2026, 3, 31), D(2026, 1, 1), 7) == Period(
        D(2026, 3, 25), D(2026, 3, 31)
    )


def test_overlay_and_relative_change():
    period, previous = Period(D(2026, 2, 8), D(2026, 2, 14)), Period(D(2026, 2, 1), D(2026, 2, 7))
    assert shift_onto(D(2026, 2, 3), previous, period) == D(2026, 2, 10)
    assert relative_change(110, 100) == pytest.approx(0.1)
    assert relative_change(-50, -100) == pytest.approx(0.5)
    assert relative_change(5, 0) is None and relative_change(None, 3) is None


def test_months_overlapping_a_period_and_their_label():
    from analytics.periods import months_label, months_overlapping

    assert months_overlapping(Period(D(2026, 2, 8), D(2026, 2, 21))) == (D(2026, 2, 1),)
    span = months_overlapping(Period(D(2025, 12, 31), D(2026, 2, 1)))
    assert span == (D(2025, 12, 1), D(2026, 1, 1), D(2026, 2, 1))
    assert months_label(span) == "Dec 2025 – Feb 2026"
    assert months_label([D(2026, 1, 1), D(2026, 2, 1)]) == "Jan – Feb 2026"
    assert months_label([D(2026, 2, 1)]) == "Feb 2026" and months_label([]) == "–"
