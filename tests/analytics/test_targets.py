"""KPI targets: the state rule in both directions, and a bad file fails with what to fix."""

from __future__ import annotations

import pytest

from analytics.targets import DEFAULT_FILE, Target, TargetsError, load_targets, parse_targets


def test_state_against_target_in_both_directions():
    more = Target("dau", 100, "up")
    assert [more.state(v) for v in (120, 100, 95, 90, 89.9, None)] == [
        "on_track",
        "on_track",
        "at_risk",
        "at_risk",
        "off",
        None,
    ]
    less = Target("churn", 0.05, "down", tolerance=0.2)
    assert [less.state(v) for v in (0.04, 0.05, 0.059, 0.061)] == [
        "on_track",
        "on_track",
        "at_risk",
        "off",
    ]


def test_the_packaged_file_is_valid():
    targets = load_targets(DEFAULT_FILE)
    assert targets["subscriber_churn_rate"].direction == "down" and targets["dau"].value > 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("targets: [1, 2]", "expected a mapping with a 'targets:' section"),
        ("targets: {dau: {value: high, direction: up}}", "targets.dau.value must be a number"),
        ("targets: {dau: {value: 1, direction: sideways}}", "direction must be 'up' or 'down'"),
        ("targets: {dau: {value: 1, direction: up, tolerance: 2}}", "tolerance must be a number"),
        ("targets: {dau: {value: 1, direction: up, goal: 3}}", "unknown key(s) ['goal']"),
        ("targets: {dau: [", "is not valid YAML"),
    ],
)
def test_bad_targets_fail_with_what_to_fix(text, message):
    with pytest.raises(TargetsError, match=__import__("re").escape(message)):
        parse_targets(text, "t.yaml")


def test_a_missing_file_says_which_setting_to_use(tmp_path):
    with pytest.raises(TargetsError, match="PULSE_TARGETS_FILE"):
        load_targets(tmp_path / "none.yaml")
