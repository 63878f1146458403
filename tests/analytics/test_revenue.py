"""The MRR bridge: a month's movements take its starting MRR to its ending MRR, and a month whose
movements do not add up is reported, not drawn as if they did."""

from __future__ import annotations

import pytest

from analytics.revenue import TOLERANCE, mrr_bridge

FEBRUARY = {
    "starting_mrr": 819.5467,
    "new_mrr": 379.7583,
    "expansion_mrr": 10.0,
    "reactivated_mrr": 5.0,
    "contraction_mrr": 15.0,
    "churned_mrr": 224.8675,
    "ending_mrr": 974.4375,
    "starting_subscribers": 60,
    "new_subscribers": 26,
    "expanded_subscribers": 1,
    "reactivated_subscribers": 1,
    "contracted_subscribers": 2,
    "churned_subscribers": 17,
    "ending_subscribers": 70,
}


def test_the_movements_take_the_starting_mrr_to_the_ending_mrr():
    bridge = mrr_bridge(FEBRUARY)
    assert [label for label, _ in bridge.steps] == [
        "Starting MRR", "New", "Expansion", "Reactivated", "Contraction", "Churned", "Ending MRR",
    ]  # fmt: skip
    assert [v for _, v in bridge.steps] == [
        819.5467,
        379.7583,
        10.0,
        5.0,
        -15.0,
        -224.8675,
        974.4375,
    ]
    assert bridge.computed_ending == pytest.approx(974.4375)
    assert bridge.adds_up and abs(bridge.difference) < 1e-9
    assert bridge.equation() == (
        "$819.55 starting + $379.76 new + $10.00 expansion + $5.00 reactivated − $15.00 "
        "contraction − $224.87 churned = $974.44"
    )
    assert (
        dict(bridge.subscribers)["Churned"] == 17 and dict(bridge.subscribers)["Ending MRR"] == 70
    )


def test_a_month_that_does_not_add_up_says_by_how_much():
    broken = FEBRUARY | {"ending_mrr": 1000.0}
    bridge = mrr_bridge(broken)
    assert not bridge.adds_up
    assert bridge.difference == pytest.approx(1000.0 - 974.4375)
    # Rounding of the mart's columns (4 decimals) stays within the tolerance.
    assert mrr_bridge(FEBRUARY | {"ending_mrr": 974.4375 + TOLERANCE / 2}).adds_up


def test_missing_movements_count_as_zero_and_never_show_minus_zero():
    bridge = mrr_bridge({"starting_mrr": 100.0, "ending_mrr": 100.0, "churned_mrr": 0.0})
    assert bridge.adds_up
    assert all(str(v) != "-0.0" for _, v in bridge.steps)
    assert dict(bridge.subscribers)["New"] is None
    assert "− $0.00 contraction − $0.00 churned" in bridge.equation()  # a cost stays a cost
    with pytest.raises(ValueError, match="needs ending_mrr"):
        mrr_bridge({"starting_mrr": 1.0})
