from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from apps.streamlit.data import MartNotPublished, kpi_summary, period_bounds, read_mart
from lake import gold

PAGE = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "pages" / "executive.py")


def _daily(days: int, start: date = date(2026, 1, 1)) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "kpi_date": [start + timedelta(days=i) for i in range(days)],
            "dau": [100 + i for i in range(days)],
            "new_users": [10] * days,
            "revenue": [50.0 * (i + 1) for i in range(days)],
            "workouts_completed": [i for i in range(days)],
        }
    )


def test_period_bounds_are_back_to_back():
    prev_start, cur_start, end = period_bounds(date(2026, 1, 14), 7)
    assert (prev_start, cur_start, end) == (date(2026, 1, 1), date(2026, 1, 8), date(2026, 1, 15))


def test_kpi_summary_compares_last_period_with_the_one_before():
    kpis = {k.name: k for k in kpi_summary(_daily(14), 7)}
    # current days 7..13, previous days 0..6
    assert kpis["dau"].current == pytest.approx(sum(range(107, 114)) / 7)
    assert kpis["dau"].previous == pytest.approx(sum(range(100, 107)) / 7)
    assert kpis["new_users"].current == 70
    assert kpis["revenue"].current == sum(50.0 * (i + 1) for i in range(7, 14))
    assert kpis["workouts_completed"].change == pytest.approx(
        (sum(range(7, 14)) - sum(range(7))) / sum(range(7))
    )


def test_kpi_summary_has_no_change_without_a_full_previous_period():
    kpis = kpi_summary(_daily(10), 7)
    assert all(k.previous is None and k.change is None for k in kpis)
    assert kpi_summary(_daily(0), 7) == []


def test_read_mart_explains_how_to_publish(tmp_path):
    with pytest.raises(MartNotPublished, match="pulse materialize"):
        read_mart(tmp_path, "exec_daily_kpis")


def test_executive_page_shows_kpis_and_trend(pulse_settings):
    gold.publish(pulse_settings, {"exec_daily_kpis": _daily(28).to_arrow()})

    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    metrics = {m.label: m for m in at.metric}
    assert metrics["Daily active users (avg)"].value == f"{sum(range(121, 128)) / 7:,.0f}"
    assert metrics["New users"].value == "70"
    assert metrics["New users"].delta == "+0.0%"
    assert (
        metrics["Net revenue (USD)"].value == f"${sum(50.0 * (i + 1) for i in range(21, 28)):,.0f}"
    )

    at.segmented_control(key="period").set_value(14).run()
    assert {m.label: m.value for m in at.metric}["New users"] == "140"
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")


def test_executive_page_says_what_to_run_before_data_exists(pulse_settings):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert "pulse materialize" in at.warning[0].value
