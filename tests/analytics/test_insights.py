"""Insights: movers ranked by relative change, changes attributed to the segments that carried
them, worded the same way every time."""

from __future__ import annotations

import pytest

from analytics.insights import Mover, attribute, best_attribution, rank_movers


def test_attribution_splits_an_additive_change_over_segments():
    current = {"ios": 300.0, "android": 500.0, "web": 120.0}
    previous = {"ios": 370.0, "android": 520.0, "web": 130.0}  # total 1020 -> 920: -100
    drivers = attribute(current, previous, dimension="Platform")
    assert [(c.segment, round(c.share, 2), c.delta) for c in drivers] == [
        ("ios", 0.7, -70.0),
        ("android", 0.2, -20.0),
    ]
    assert attribute({"a": 1.0}, {"a": 1.0}, dimension="x") == ()


def test_segments_moving_against_the_total_are_not_drivers_and_new_segments_count():
    drivers = attribute({"a": 50.0, "b": 80.0, "new": 30.0}, {"a": 60.0, "b": 40.0}, dimension="d")
    # total +60: b +40 (67 %), new +30 (50 %), a -10 moved against it
    assert [(c.segment, round(c.share, 2)) for c in drivers] == [("b", 0.67), ("new", 0.5)]


def test_best_attribution_prefers_the_dimension_that_explains_the_change_most_sharply():
    by_dimension = {
        "Platform": ({"ios": 60.0, "web": 40.0}, {"ios": 70.0, "web": 50.0}),  # -20: 50/50
        "Channel": ({"paid": 10.0, "organic": 90.0}, {"paid": 28.0, "organic": 92.0}),  # 90 %
    }
    assert best_attribution(by_dimension)[0].dimension == "Channel"


def test_movers_are_ranked_and_worded():
    revenue = Mover("net_revenue", "Net revenue", "currency", "up", 9200.0, 10000.0)
    users = Mover("dau", "Daily active users", "count", "up", 101.0, 100.0)
    churn = Mover("churn", "Subscriber churn", "percent", "down", 0.06, 0.05)
    ranked = rank_movers([users, revenue, churn])
    assert [m.metric for m in ranked] == ["churn", "net_revenue"]  # +20 %, -8 %; dau +1 % below 2 %
    assert churn.is_good is False and revenue.is_good is False
    worded = Mover(
        "net_revenue",
        "Net revenue",
        "currency",
        "up",
        9200.0,
        10000.0,
        attribute(
            {"ios": 3000.0, "android": 6200.0},
            {"ios": 3560.0, "android": 6440.0},
            dimension="Platform",
        ),
    ).sentence("the previous period")
    assert worded == (
        "Net revenue -8.0% against the previous period ($9,200 vs $10,000); "
        "70% of the drop is Platform ios, 30% is Platform android."
    )
    assert revenue.change == pytest.approx(-0.08)
