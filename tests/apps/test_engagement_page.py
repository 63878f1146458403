"""The engagement page on the shared demo's gold publication (AppTest): the session and stickiness
cards equal an independent recomputation from the marts for a chosen range and segment, the
feature-adoption and screen-path tables are the marts' rows, widgets and query params work, and
a day without data shows empty states instead of failing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics.charts import format_change, format_value

pytestmark = pytest.mark.integration

PAGE = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views" / "engagement.py")
START, END = dt.date(2026, 2, 15), dt.date(2026, 2, 28)  # two weeks; the two before are in the data


@pytest.fixture(scope="module")
def marts(demo_settings):
    from lake import gold

    return lambda name: pl.read_parquet(gold.mart_path(demo_settings, name))


def _run(params: dict) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _expected(marts, start: dt.date, end: dt.date, platform: str) -> dict[str, float]:
    """The cards' numbers from the marts' column docs: sessions of members of the platform (the
    segment is the member's platform), their length and frequency; DAU averaged over every day
    of the range over the MAU (distinct members active in the 30 days ending the last day)."""
    members = marts("dim_users").filter(pl.col("platform") == platform).select("user_id")
    sessions = (
        marts("fct_sessions")
        .filter(pl.col("session_date").is_between(start, end))
        .join(members, on="user_id")
    )
    active = marts("fct_user_daily").filter(pl.col("events") > 0).join(members, on="user_id")
    days = (end - start).days + 1
    dau = (
        active.filter(pl.col("activity_date").is_between(start, end))
        .group_by("activity_date")
        .agg(pl.col("user_id").n_unique())["user_id"]
        .sum()
        / days
    )
    mau = active.filter(pl.col("activity_date").is_between(end - dt.timedelta(days=29), end))[
        "user_id"
    ].n_unique()
    return {
        "Sessions": sessions.height,
        "Average session length": sessions["duration_seconds"].sum() / sessions.height,
        "Sessions per user": sessions.height / sessions["user_key"].n_unique(),
        "Stickiness (DAU/MAU)": dau / mau,
    }


UNITS = {
    "Sessions": "count",
    "Average session length": "seconds",
    "Sessions per user": "number",
    "Stickiness (DAU/MAU)": "percent",
}


def test_cards_equal_an_independent_recomputation_for_a_range_and_a_segment(marts):
    at = _run({"range": [str(START), str(END)], "platform": "ios"})
    assert not at.exception, [e.message for e in at.exception]
    cards = {m.label: (m.value, m.delta) for m in at.metric}
    current = _expected(marts, START, END, "ios")
    previous = _expected(marts, START - dt.timedelta(days=14), START - dt.timedelta(days=1), "ios")
    for label, value in current.items():
        shown, delta = cards[label]
        assert shown == format_value(value, UNITS[label], compact=True), label
        change = (value - previous[label]) / abs(previous[label])
        assert delta == format_change(change), label
    assert "Platform: ios" in " ".join(c.value for c in at.caption)
    # Sessions by the device they ran on, for the same members and range.
    platform_table = at.dataframe[0].value
    sessions = (
        marts("fct_sessions")
        .filter(pl.col("session_date").is_between(START, END))
        .join(
            marts("dim_users").filter(pl.col("platform") == "ios").select("user_id"),
            on="user_id",
        )
    )
    by_device = dict(sessions.group_by(pl.col("platform").fill_null("unknown")).len().iter_rows())
    assert dict(zip(platform_table["platform"], platform_table["sessions"], strict=True)) == (
        by_device
    )


def _frame(at: AppTest, column: str):
    """The first table of the page that has ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_adoption_and_journey_tables_are_the_marts_and_follow_their_widgets(marts):
    params = {
        "range": [str(START), str(END)],
        "compare": "No comparison",  # bound by its label
        "session_metric": "Average session length",
        "from_screen": "Home",
        "adoption_window": "All data",
    }
    at = _run(params)
    assert not at.exception, [e.message for e in at.exception]
    assert all(m.delta == "" for m in at.metric)  # no comparison: no deltas
    assert at.segmented_control(key="session_metric").value == "avg_session_length"
    # Each section is a tab chosen in the URL; only the open one is drawn.
    at = _run({**params, "tab": "Feature usage and adoption"})
    assert not at.exception, [e.message for e in at.exception]
    assert not any("sessions_per_user" in d.value.columns for d in at.dataframe)
    adoption = _frame(at, "adoption_rate")
    mart = marts("eng_feature_adoption")
    assert dict(zip(adoption["feature"], adoption["users"], strict=True)) == dict(
        zip(mart["feature"], mart["users"], strict=True)
    )
    rates = adoption["adoption_rate"].tolist()
    assert rates == sorted(rates, reverse=True)  # sorted by all-data adoption
    at = _run({**params, "tab": "User journeys"})
    assert not at.exception, [e.message for e in at.exception]
    paths = _frame(at, "transitions")
    expected = (
        marts("eng_screen_paths")
        .filter((pl.col("from_screen") == "Home") & (pl.col("to_screen") != "Home"))
        .sort("transitions", descending=True)
        .head(20)
        .with_columns(pl.col("to_screen").replace({"(exit)": "Session end"}))
    )
    assert set(paths["from_screen"]) == {"Home"}
    assert paths["to_screen"].tolist() == expected["to_screen"].to_list()
    assert paths["transitions"].tolist() == expected["transitions"].to_list()
    # Repeated views (Home -> Home) join the flow when asked for.
    at.toggle(key="repeats").set_value(True).run()
    assert "Home" in _frame(at, "transitions")["to_screen"].tolist()


def test_a_day_without_data_shows_empty_states(marts):
    at = _run({"drill": "day:2026-03-20"})  # after the published data, no live events
    assert not at.exception, [e.message for e in at.exception]
    assert "No sessions in this period" in " ".join(i.value for i in at.info)
    assert any(b.label == "All data" for b in at.button)  # the breadcrumb undoes the drill
    at = _run({"drill": "day:2026-03-20", "tab": "Stickiness"})
    assert "No activity in this period" in " ".join(i.value for i in at.info)
