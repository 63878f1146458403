"""The retention page on the shared demo's gold publication (AppTest): the cards and the cohort
matrix equal an independent recomputation from eng_cohort_retention for the grains, window and
kind chosen in the URL, a cohort opens from the URL, the lifecycle summary is the mart's, and a
range no cohort has completed a period in shows an empty state."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics.charts import format_value

pytestmark = pytest.mark.integration

PAGE = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views" / "retention.py")
START, END = dt.date(2026, 1, 21), dt.date(2026, 2, 28)  # starts mid-week: its cohort counts
MONDAY = dt.date(2026, 1, 19)


@pytest.fixture(scope="module")
def cohorts(demo_settings) -> pl.DataFrame:
    from lake import gold

    return pl.read_parquet(gold.mart_path(demo_settings, "eng_cohort_retention"))


@pytest.fixture(scope="module")
def lifecycle(demo_settings) -> pl.DataFrame:
    from lake import gold

    return pl.read_parquet(gold.mart_path(demo_settings, "eng_lifecycle_daily"))


def _run(params: dict) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _rows(cohorts, cohort_grain, period_grain, window, kind, start=MONDAY, end=END):
    return cohorts.filter(
        (pl.col("cohort_grain") == cohort_grain)
        & (pl.col("period_grain") == period_grain)
        & (pl.col("window_type") == window)
        & (pl.col("retention_kind") == kind)
        & pl.col("cohort_start").is_between(start, end)
    )


def _rate(rows: pl.DataFrame, period: int) -> float:
    at = rows.filter(pl.col("period_number") == period)
    return at["retained_users"].sum() / at["cohort_size"].sum()


def test_cards_and_matrix_equal_the_mart_for_the_default_view(cohorts):
    at = _run({"range": [str(START), str(END)], "compare": "No comparison"})
    assert not at.exception, [e.message for e in at.exception]
    cards = {m.label: m.value for m in at.metric}
    weekly = _rows(cohorts, "week", "week", "calendar", "n_day")
    day7 = _rows(cohorts, "week", "day", "calendar", "n_day")
    assert cards["Week-1 retention"] == format_value(_rate(day7, 7), "percent")
    members = weekly.filter(pl.col("period_number") == 0)["cohort_size"].sum()
    assert cards["Cohort members"] == format_value(members, "count", compact=True)
    assert cards["Retained in week 1"] == format_value(_rate(weekly, 1), "percent")
    assert cards["Retained in week 4"] == format_value(_rate(weekly, 4), "percent")
    # The matrix table: one row per cohort, one column per week since signup.
    matrix = at.dataframe[0].value
    expected = weekly.pivot(
        on="period_number", index="cohort_start", values="retention_rate", sort_columns=True
    ).sort("cohort_start")
    assert [d.date() for d in matrix["cohort_start"]] == expected["cohort_start"].to_list()
    assert matrix["cohort_start"].iloc[0].date() == MONDAY  # the range's first week counts
    for week in ("0", "1", "2"):
        assert matrix[f"Week {week}"].tolist() == pytest.approx(
            expected[week].fill_null(float("nan")).to_list(), nan_ok=True
        )


def test_grains_window_and_kind_come_from_the_url_and_a_cohort_opens(cohorts):
    at = _run(
        {
            "range": [str(START), str(END)],
            "period_grain": "Days",  # segmented controls are bound by their labels
            "window": "Rolling 24 h",
            "kind": "Unbounded",
            "cohort": "2026-01-26",
        }
    )
    assert not at.exception, [e.message for e in at.exception]
    rows = _rows(cohorts, "week", "day", "rolling_24h", "unbounded")
    cards = {m.label: m.value for m in at.metric}
    assert cards["Retained in day 1"] == format_value(_rate(rows, 1), "percent")
    assert cards["Retained in day 7"] == format_value(_rate(rows, 7), "percent")
    assert at.selectbox(key="cohort").value == "2026-01-26"
    one = rows.filter(pl.col("cohort_start") == dt.date(2026, 1, 26)).sort("period_number")
    text = " ".join(m.value for m in at.markdown)
    assert f"Cohort of Jan 26, 2026** — {one['cohort_size'][0]:,} members" in text
    detail = at.dataframe[1].value
    assert detail["retained_users"].tolist() == one["retained_users"].to_list()
    # Unbounded retention never rises from one day to the next.
    assert detail["retention_rate"].tolist() == sorted(detail["retention_rate"], reverse=True)


def test_lifecycle_summary_is_the_mart_and_an_empty_range_says_what_to_do(lifecycle):
    at = _run({"range": [str(START), str(END)], "tab": "Lifecycle"})  # a tab, chosen in the URL
    assert not at.exception, [e.message for e in at.exception]
    assert "cohort_heatmap" not in at.session_state  # only the open tab is drawn
    life = lifecycle.filter(pl.col("activity_date").is_between(START, END))
    text = " ".join(m.value for m in at.markdown)
    assert f"**{life['new_users'].sum():,}** members were active for the first time" in text
    last = life.sort("activity_date").row(-1, named=True)
    assert f"**{last['dormant_users']:,}** dormant" in text
    # Monthly periods of cohorts from the last days: none has ended yet.
    empty = _run({"range": ["2026-02-27", "2026-02-28"], "period_grain": "Months"})
    assert not empty.exception, [e.message for e in empty.exception]
    assert any("No cohort has completed a period" in i.value for i in empty.info)


def test_comparison_tab_overlays_the_cohorts_in_the_url_and_names_the_biggest_loss(cohorts):
    at = _run(
        {
            "range": [str(START), str(END)],
            "tab": "Compare cohorts",
            "compare_cohorts": ["2026-01-26", "2026-02-02"],
        }
    )
    assert not at.exception, [e.message for e in at.exception]
    assert at.multiselect(key="compare_cohorts").value == ["2026-01-26", "2026-02-02"]
    weekly = _rows(cohorts, "week", "week", "calendar", "n_day")
    rates = {p: _rate(weekly, p) for p in sorted(set(weekly["period_number"]))}
    drops = {p: rates[p - 1] - rates[p] for p in rates if p - 1 in rates}
    worst = max(drops, key=drops.get)
    week1 = weekly.filter(pl.col("period_number") == 1).sort("retention_rate", descending=True)
    best, low = week1.row(0, named=True), week1.row(-1, named=True)
    note = " ".join(m.value for m in at.markdown)
    assert (
        f"biggest loss is from week {worst - 1} to {worst} "
        f"({format_value(drops[worst], 'percent')} of members)"
    ) in note
    assert f"the best cohort is {best['cohort_start']:%b %d} " in note
    assert f"the weakest {low['cohort_start']:%b %d} " in note
