"""Marketplace rules: each suggestion fires on the threshold it names and not below it, says the
numbers behind it, and the same table always gives the same list; labels mark inferred
programs; category benchmarks are ratios of sums."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from analytics.marketplace import (
    RULES,
    Thresholds,
    benchmarks,
    binomial_at_least,
    category_benchmarks,
    label_programs,
    poisson_at_least,
    poisson_at_most,
    program_label,
    rule_thresholds,
    suggest,
)


def _program(pid: str, **values) -> dict:
    row = {
        "program_id": pid,
        "program_title": f"Program {pid}",
        "is_inferred": False,
        "category": "yoga",
        "list_price": 20.0,
        "views": 20,
        "viewers": 20,
        "purchases": 1,
        "purchasers": 1,
        "ratings": 10,
        "avg_rating": 3.5,
        "refunds": 0,
        "refunded_amount": 0.0,
    }
    row.update(values)
    row["conversion_rate"] = row["purchasers"] / row["viewers"] if row["viewers"] else None
    row["gross_revenue"] = row["purchases"] * row["list_price"]
    row["net_revenue"] = row["gross_revenue"] - row["refunded_amount"]
    row["refund_rate"] = row["refunds"] / row["purchases"] if row["purchases"] else None
    return row


def _table(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows))


# Eight ordinary programs (20 views, 1 of 20 viewers buys: 5 %), plus one of each problem.
ORDINARY = [_program(f"p{i:02d}") for i in range(8)]
BUSY_NO_SALES = _program("busy", views=60, viewers=50, purchasers=0, purchases=0, list_price=30.0)
REFUNDED = _program(
    "refunded", purchases=5, purchasers=5, refunds=3, refunded_amount=60.0, views=18, viewers=18
)
STAR = _program("star", views=12, viewers=12, purchases=4, purchasers=4, ratings=2)
GRUMPY = _program("grumpy", ratings=12, avg_rating=2.5)


def test_each_rule_fires_for_its_program_with_the_numbers_behind_it():
    table = _table(*ORDINARY, BUSY_NO_SALES, REFUNDED, STAR, GRUMPY)
    bench, suggestions = suggest(table)
    fired = {(s.rule, s.program_id) for s in suggestions}
    assert ("low_conversion", "busy") in fired
    assert ("high_refund_rate", "refunded") in fired
    assert ("few_ratings", "star") in fired
    assert ("under_exposed", "star") in fired
    assert ("low_rating", "grumpy") in fired
    assert not any(s.program_id.startswith("p0") for s in suggestions)  # ordinary: nothing

    assert bench.median_conversion == pytest.approx(0.05)  # the median program converts 1 of 20
    low = next(s for s in suggestions if s.rule == "low_conversion")
    # 50 viewers at the 5 % median would be 2.5 sales at $30: $75 at stake
    assert low.impact == pytest.approx(75.0)
    assert low.value == 0.0 and low.benchmark == pytest.approx(0.025)
    assert "50 viewers" in low.evidence and "$75" in low.evidence
    assert low.chance == pytest.approx(math.exp(-2.5), abs=1e-4)  # Poisson P(0 | 2.5)
    assert "conversion ≤ 2.5%" in low.threshold and "median of 5.0%" in low.threshold

    refund = next(s for s in suggestions if s.rule == "high_refund_rate")
    purchases = 8 + 5 + 4 + 1
    rate = 3 / purchases
    assert bench.marketplace_refund_rate == pytest.approx(rate)
    assert refund.value == pytest.approx(0.6)
    assert refund.benchmark == pytest.approx(max(2 * rate, 0.10))
    assert refund.impact == pytest.approx(60.0 - rate * 100.0, abs=0.01)
    assert refund.chance == pytest.approx(binomial_at_least(3, 5, rate), abs=1e-4)
    assert not refund.could_be_chance

    assert {s.rule for s in suggestions} == set(RULES)
    assert all(s.headline == RULES[s.rule][0] and s.threshold for s in suggestions)


def test_a_program_just_short_of_a_threshold_does_not_fire():
    # Conversion exactly 0.5 x the median fires; just above it does not.
    at_edge = _program("edge", views=60, viewers=40, purchasers=1, purchases=1)  # 2.5 %
    above = _program("above", views=60, viewers=39, purchasers=1, purchases=1)  # 2.56 %
    few_viewers = _program("few", views=60, viewers=19, purchasers=0, purchases=0)
    table = _table(*ORDINARY, at_edge, above, few_viewers)
    _, suggestions = suggest(table)
    low = {s.program_id for s in suggestions if s.rule == "low_conversion"}
    assert low == {"edge"}  # "few" has too few viewers to judge its conversion

    # Refunds: too few purchases to judge, whatever the rate.
    small = _program("small", purchases=2, purchasers=2, refunds=2, refunded_amount=40.0)
    _, suggestions = suggest(_table(*ORDINARY, small))
    assert not [s for s in suggestions if s.rule == "high_refund_rate"]
    _, suggestions = suggest(_table(*ORDINARY, small), Thresholds(min_purchases=2))
    assert [s.program_id for s in suggestions if s.rule == "high_refund_rate"] == ["small"]


def test_suggestions_are_ordered_by_revenue_at_stake_and_are_deterministic():
    table = _table(*ORDINARY, BUSY_NO_SALES, REFUNDED, STAR, GRUMPY)
    _, first = suggest(table)
    _, again = suggest(table.sample(fraction=1.0, shuffle=True, seed=7))
    assert first == again
    impacts = [s.impact for s in first if s.impact is not None]
    assert impacts == sorted(impacts, reverse=True)
    # Suggestions without an estimate come after those with one.
    assert [s.impact is None for s in first] == sorted(s.impact is None for s in first)


def test_thresholds_are_described_even_when_nothing_fires():
    table = _table(*ORDINARY)
    bench, suggestions = suggest(table)
    assert suggestions == []
    texts = rule_thresholds(bench)
    assert set(texts) == set(RULES)
    assert "views ≥ 20" in texts["low_conversion"]
    assert "refund rate ≥ 10.0%" in texts["high_refund_rate"]  # 2 x 0 % < the 10 % floor
    # No sales at all: the rules that need a median conversion say so.
    dead = _table(*[_program(f"d{i}", purchases=0, purchasers=0) for i in range(4)])
    bench, suggestions = suggest(dead)
    assert suggestions == [] and bench.median_conversion == 0.0
    texts = rule_thresholds(bench)
    assert "there is none yet" in texts["low_conversion"]
    assert "there are none yet" in texts["high_refund_rate"]


def test_top_sellers_are_the_top_share_of_programs_with_sales():
    rows = [_program(f"s{i}", purchases=i, purchasers=i, viewers=40, views=40) for i in range(9)]
    bench = benchmarks(_table(*rows))
    assert bench.programs_with_sales == 8  # s0 sold nothing
    assert bench.top_sellers == ("s8", "s7")  # ceil(25 % of 8)
    assert bench.top_seller_net_revenue == pytest.approx(140.0)


def test_labels_mark_inferred_programs_and_disambiguate_shared_titles():
    assert program_label("pg_1", "Strong Flow", False) == "Strong Flow"
    assert program_label("pg_9", None, True) == "pg_9 (inferred)"
    assert program_label("pg_9", "  ", True) == "pg_9 (inferred)"
    assert program_label("pg_8", "New Flow", True) == "New Flow (inferred)"
    frame = pl.DataFrame(
        {
            "program_id": ["a", "b", "c"],
            "program_title": ["Flow", "Flow", None],
            "is_inferred": [False, False, True],
        }
    )
    assert label_programs(frame)["program"].to_list() == ["Flow · a", "Flow · b", "c (inferred)"]
    inferred = _program("new", program_title=None, is_inferred=True, ratings=12, avg_rating=2.0)
    _, suggestions = suggest(_table(*ORDINARY, inferred))
    assert [s.program for s in suggestions] == ["new (inferred)"]


def test_category_benchmarks_are_ratios_of_sums():
    rows = [
        _program("a", category="yoga", viewers=10, purchasers=1, purchases=1, ratings=1),
        _program("b", category="yoga", viewers=30, purchasers=3, purchases=3, ratings=3,
                 avg_rating=4.0, refunds=1, refunded_amount=20.0),
        _program("c", category="hiit", viewers=0, views=0, purchasers=0, purchases=0, ratings=0),
    ]  # fmt: skip
    table = category_benchmarks(_table(*rows))
    yoga = table.filter(pl.col("category") == "yoga").row(0, named=True)
    assert yoga["programs"] == 2
    assert yoga["conversion_rate"] == pytest.approx(4 / 40)
    assert yoga["refund_rate"] == pytest.approx(1 / 4)
    assert yoga["avg_rating"] == pytest.approx((3.5 * 1 + 4.0 * 3) / 4)
    assert yoga["net_revenue"] == pytest.approx(80.0 - 20.0)
    hiit = table.filter(pl.col("category") == "hiit").row(0, named=True)
    assert hiit["conversion_rate"] is None and hiit["refund_rate"] is None
    assert table["category"].to_list() == ["yoga", "hiit"]  # by net revenue


def test_a_table_without_the_columns_is_refused_with_what_is_missing():
    with pytest.raises(ValueError, match="lacks views, viewers"):
        suggest(pl.DataFrame({"program_id": ["a"]}).with_columns(pl.lit(1).alias("purchases")))


def test_tail_probabilities():
    assert poisson_at_most(0, 2.5) == pytest.approx(math.exp(-2.5))
    assert poisson_at_most(1, 1.0) == pytest.approx(2 * math.exp(-1))
    assert poisson_at_least(0, 3.0) == 1.0
    assert poisson_at_least(2, 1.0) == pytest.approx(1 - 2 * math.exp(-1))
    assert binomial_at_least(1, 3, 0.5) == pytest.approx(7 / 8)
    assert binomial_at_least(3, 3, 0.5) == pytest.approx(1 / 8)
    assert binomial_at_least(1, 10, 0.0) == 0.0
    assert 0.0 < binomial_at_least(600, 5000, 0.1) < 1e-3  # large n: no overflow


def test_programs_in_range_counts_distinct_members_and_sums_the_rest():
    from analytics.marketplace import programs_in_range

    daily = pl.DataFrame(
        {
            "program_id": ["p1", "p1", "p1", "p2"],
            "member_id": ["a", "a", "b", "a"],
            "activity_date": [dt.date(2026, 2, d) for d in (1, 2, 2, 3)],
            "views": [2, 1, 1, 0],
            "purchases": [0, 1, 0, 0],
            "gross_revenue": [0.0, 30.0, 0.0, 0.0],
            "refunds": [0, 1, 0, 0],
            "refunded_amount": [0.0, 30.0, 0.0, 0.0],
            "trainer_payout": [0.0, 21.0, 0.0, 0.0],
            "rating_sum": [0, 4, 2, 5],
            "ratings": [0, 1, 1, 1],
        }
    )
    attributes = pl.DataFrame(
        {"program_id": ["p1", "p2"], "trainer_id": ["t1", "t2"], "category": ["yoga", "hiit"],
         "list_price": [30.0, 20.0]}
    )  # fmt: skip
    out = {r["program_id"]: r for r in programs_in_range(daily, attributes).iter_rows(named=True)}
    p1, p2 = out["p1"], out["p2"]
    assert (p1["views"], p1["viewers"], p1["purchasers"]) == (4, 2, 1)  # a viewed on two days
    assert p1["conversion_rate"] == 0.5 and p1["refund_rate"] == 1.0
    assert p1["net_revenue"] == 0.0 and p1["platform_commission"] == 9.0
    assert p1["avg_rating"] == 3.0 and p1["category"] == "yoga"
    # rated but not viewed or bought in the range: no conversion, no refund rate
    assert p2["viewers"] == 0 and p2["conversion_rate"] is None and p2["refund_rate"] is None
    with pytest.raises(ValueError, match="mkt_program_member_daily"):
        programs_in_range(daily.drop("member_id"), attributes)
