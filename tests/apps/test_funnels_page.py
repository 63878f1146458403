"""The funnels page on the shared demo's gold publication (AppTest): the default range ends on the
last signup day whose window is complete, the cards and the segment table equal an independent
recomputation from eng_signup_funnel (complete windows only) for a chosen range and segment, the
page says how many later signups are left out, a drill-down narrows it, and a range of open
windows only shows an empty state."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics.charts import format_value

pytestmark = pytest.mark.integration

PAGE = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views" / "funnels.py")
START, END = dt.date(2026, 1, 25), dt.date(2026, 2, 21)  # ends a week past the last full window


@pytest.fixture(scope="module")
def funnel(demo_settings) -> pl.DataFrame:
    from lake import gold

    return pl.read_parquet(gold.mart_path(demo_settings, "eng_signup_funnel"))


def _run(params: dict) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _in(funnel, start=START, end=END, **where) -> pl.DataFrame:
    rows = funnel.filter(pl.col("signup_date").is_between(start, end))
    for column, value in where.items():
        rows = rows.filter(pl.col(column) == value)
    return rows


def _summary(rows: pl.DataFrame) -> dict[str, float]:
    """The funnel from the mart's column docs: complete windows only."""
    done = rows.filter(pl.col("is_window_complete"))
    paid = done.filter(pl.col("converted_within_window"))
    return {
        "signups": done.height,
        "worked_out": done["converted_workout_within_window"].sum(),
        "paid_after_workout": done["converted_after_workout_within_window"].sum(),
        "paid": paid.height,
        "median_days": (paid["hours_to_first_conversion"] / 24).median(),
    }


def test_default_range_ends_where_windows_are_complete(funnel):
    at = _run({})
    assert not at.exception, [e.message for e in at.exception]
    last = funnel.filter(pl.col("is_window_complete"))["signup_date"].max()
    assert f"signups through {last:%b %d, %Y}" in at.info[0].value
    first = last - dt.timedelta(days=27)
    assert f"{first:%b %d} – {last:%b %d, %Y}" in " ".join(c.value for c in at.caption)
    assert "still converting" not in at.info[0].value  # nothing open in the default range


def test_cards_and_segment_table_equal_a_recomputation_for_a_range_and_a_segment(funnel):
    at = _run({"range": [str(START), str(END)], "platform": "ios"})
    assert not at.exception, [e.message for e in at.exception]
    rows = _in(funnel, signup_platform="ios")
    want = _summary(rows)
    cards = {m.label: m.value for m in at.metric}
    assert cards["Signups (complete window)"] == format_value(want["signups"], "count")
    assert cards["Signup to first workout"] == format_value(
        want["worked_out"] / want["signups"], "percent"
    )
    assert cards["Signup to paid (14 d)"] == format_value(want["paid"] / want["signups"], "percent")
    assert cards["Median days to paid"] == format_value(want["median_days"], "days", compact=True)
    still_open = rows.filter(~pl.col("is_window_complete")).height
    assert f"{still_open:,} later signups in the range are still converting" in at.info[0].value
    # By signup channel (the default breakdown), for the same members.
    table = at.dataframe[0].value.set_index("acquisition_channel")
    for channel, group in rows.group_by("signup_channel"):
        expected = _summary(group)
        if not expected["signups"]:
            continue
        got = table.loc[channel[0]]
        assert got["funnel_signups"] == expected["signups"]
        assert got["funnel_activations"] == expected["worked_out"]
        assert got["funnel_paid_after_workout"] == expected["paid_after_workout"]
        assert got["funnel_conversion_rate"] == pytest.approx(
            expected["paid"] / expected["signups"]
        )


def test_drill_into_a_channel_narrows_the_page_and_breaks_down_by_platform(funnel):
    at = _run({"range": [str(START), str(END)], "drill": "acquisition_channel:organic"})
    assert not at.exception, [e.message for e in at.exception]
    want = _summary(_in(funnel, signup_channel="organic"))
    assert at.metric[0].value == format_value(want["signups"], "count")
    assert at.segmented_control(key="breakdown").options == ["Signup platform"]
    table = at.dataframe[0].value
    assert table["funnel_signups"].sum() == want["signups"]
    assert "Channel: organic" in " ".join(c.value for c in at.caption)


def test_a_range_of_open_windows_says_so():
    at = _run({"range": ["2026-02-20", "2026-02-28"]})
    assert not at.exception, [e.message for e in at.exception]
    assert any("No signups with a complete window in this range" in i.value for i in at.info)
