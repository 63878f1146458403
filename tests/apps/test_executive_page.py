"""The executive page on the shared demo's gold publication (AppTest): the cards show the query
layer's numbers, which equal an independent recomputation from the marts for a chosen date range
and segment; the filters and the comparison period come from the URL; no exception."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics.charts import format_change, format_value

pytestmark = pytest.mark.integration

PAGE = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views" / "executive.py")
START, END = dt.date(2026, 2, 8), dt.date(2026, 2, 21)  # two weeks, the two before are in the data


@pytest.fixture(scope="module")
def marts(demo_settings):
    from lake import gold

    return lambda name: pl.read_parquet(gold.mart_path(demo_settings, name))


def _run(params: dict) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _cards(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _expected(marts, start, end, platform=None) -> dict[str, float]:
    users = marts("dim_users").select("user_id", "platform", "signup_date")
    if platform:
        users = users.filter(pl.col("platform") == platform)
    facts = (
        marts("fct_user_daily")
        .filter(pl.col("activity_date").is_between(start, end))
        .join(users, on="user_id")
    )
    days = (end - start).days + 1
    active = facts.filter(pl.col("events") > 0)
    return {
        "Daily active users": active.group_by("activity_date").agg(pl.len())["len"].sum() / days,
        "New users": users.filter(pl.col("signup_date").is_between(start, end)).height,
        "Net revenue": facts["revenue"].sum(),
        "Workouts completed": facts["workouts_completed"].sum(),
    }


def test_cards_equal_an_independent_recomputation_for_a_range_and_a_segment(demo_settings, marts):
    at = _run({"range": [str(START), str(END)], "platform": "ios"})
    assert not at.exception, [e.message for e in at.exception]
    cards = _cards(at)
    units = {
        "Daily active users": "count",
        "New users": "count",
        "Net revenue": "currency",
        "Workouts completed": "count",
    }
    current = _expected(marts, START, END, "ios")
    previous = _expected(marts, START - dt.timedelta(days=14), START - dt.timedelta(days=1), "ios")
    for label, value in current.items():
        shown, delta = cards[label]
        assert shown == format_value(value, units[label], compact=True), label
        change = (value - previous[label]) / abs(previous[label]) if previous[label] else None
        assert delta == format_change(change), label
    assert "Platform: ios" in " ".join(c.value for c in at.caption)


def test_comparison_and_period_come_from_the_url(demo_settings, marts):
    at = _run({"range": [str(START), str(END)], "compare": "No comparison"})  # bound by its label
    assert not at.exception
    assert all(delta == "" for _, delta in _cards(at).values())  # no comparison: no deltas
    captions = " ".join(c.value for c in at.caption)
    assert "Feb 08 – Feb 21, 2026" in captions and " vs " not in captions
    assert any("Choose a comparison period" in i.value for i in at.info)
    full = _run({"range": [str(START), str(END)]})
    assert _cards(full)["New users"][0] == format_value(
        _expected(marts, START, END)["New users"], "count", compact=True
    )
    assert any("against previous period" in m.value for m in full.markdown) or any(
        "No KPI moved" in m.value for m in full.markdown
    )


def test_every_card_has_a_target_state_or_says_none_is_set(demo_settings):
    at = _run({"range": [str(START), str(END)]})
    assert len(at.metric) == 8
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    no_target = [c.value for c in at.caption if c.value == "No target set"]
    assert len(badges) + len(no_target) >= 8


def test_a_card_opens_its_breakdown_by_segment(demo_settings, marts):
    at = _run({"range": [str(START), str(END)]})
    at.button(key="drill_net_revenue").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(m.value.startswith("**Net revenue**") for m in at.markdown)
    keys = {c.key for c in at.get("vega_lite_chart") if c.key}
    for segment in ("platform", "acquisition_channel", "plan", "country"):
        assert f"breakdown_net_revenue_{segment}__" in keys  # one chart per segment
