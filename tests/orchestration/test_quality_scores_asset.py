"""``quality/quality_scores`` materialized in-process (``dg.materialize``) over hand-built bronze
Delta tables: the stored scores equal the hand-computed ones of tests/quality/test_quality_scores
(restated here), re-runs replace the scored range, and a bad config fails with a clear message."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from orchestration.assets.quality_scores import QUALITY_SCORES, quality_scores, read_scores
from orchestration.resources import PulseResource

D1, D2 = dt.date(2026, 1, 10), dt.date(2026, 1, 11)


def us(day: dt.date, hour: int, minute: int = 0) -> int:
    moment = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)
    return int(moment.timestamp() * 1_000_000)


def row(mid, type_, name, user, anon, ts, recv, props="{}"):
    return {
        "message_id": mid,
        "type": type_,
        "event": name,
        "user_id": user,
        "anonymous_id": anon,
        "timestamp": ts,
        "received_at": recv,
        "properties": props,
        "source_id": "sim",
        "collector_id": "test",
        "sequence": 1,
        "event_date": dt.datetime.fromtimestamp(ts / 1e6, dt.UTC).date(),
    }


@pytest.fixture
def bronze(pulse_settings):
    """Day 1: 6 events (a duplicate, a row without identity, a 3 h late event of an unknown user,
    two purchases without currency), 2 quarantined. Day 2: 2 events (one 2 h late), 1
    quarantined. Known users: u1, u2."""
    from lake.writer import DeltaSink

    events = [
        row("m1", "track", "Workout Started", "u1", None, us(D1, 10), us(D1, 10, 5)),
        row(
            "m2",
            "track",
            "Program Purchased",
            "u1",
            None,
            us(D1, 11),
            us(D1, 11, 1),
            '{"amount": 10, "currency": "USD"}',
        ),
        row(
            "m3", "track", "Program Purchased", "u2", None, us(D1, 12), us(D1, 12), '{"amount": 5}'
        ),
        row(
            "m3",
            "track",
            "Program Purchased",
            "u2",
            None,
            us(D1, 12),
            us(D1, 12, 30),
            '{"amount": 5}',
        ),
        row("m4", "track", "Screen Viewed", "u9", None, us(D1, 9), us(D1, 12)),
        row("m5", "identify", None, None, None, us(D1, 13), us(D1, 13, 1)),
        row("m6", "track", "App Opened", "u1", None, us(D2, 8), us(D2, 8, 59)),
        row("m7", "screen", None, None, "a7", us(D2, 7), us(D2, 9)),
    ]
    quarantine = [
        {
            "message_id": f"q{i}",
            "reason": "invalid_timestamp",
            "payload": "{}",
            "source_id": "sim",
            "collector_id": "test",
            "received_at": us(day, 12),
            "received_date": day,
        }
        for i, day in enumerate([D1, D1, D2])
    ]
    sink = DeltaSink(pulse_settings)
    sink.append("events", events)
    sink.append("quarantine", quarantine)
    users = pulse_settings.table_path("bronze", "app_users")
    users.mkdir(parents=True)
    write_deltalake(str(users), pa.table({"user_id": ["u1", "u2"]}))
    return pulse_settings


def _materialize(settings, **config):
    return dg.materialize(
        [quality_scores],
        resources={"pulse": PulseResource.from_settings(settings)},
        run_config={"ops": {"quality__quality_scores": {"config": config}}} if config else None,
        raise_on_error=False,
    )


def test_scores_stored_per_table_and_day_equal_hand_computed(bronze):
    result = _materialize(bronze)
    assert result.success
    scores = read_scores(bronze).sort("date")
    assert scores["table"].to_list() == ["bronze.events", "bronze.events"]
    assert scores["date"].to_list() == [D1, D2]
    day1, day2 = scores.iter_rows(named=True)
    assert (day1["completeness"], day1["validity"], day1["uniqueness"]) == pytest.approx(
        (35 / 36, 0.75, 5 / 6)
    )
    assert (day1["timeliness"], day1["consistency"]) == pytest.approx((5 / 6, 0.5))
    want = 0.25 * 35 / 36 + 0.25 * 0.75 + 0.20 * 5 / 6 + 0.15 * 5 / 6 + 0.15 * 0.5
    assert day1["score"] == pytest.approx(want)
    assert (day2["validity"], day2["timeliness"], day2["consistency"]) == pytest.approx(
        (2 / 3, 0.5, 1.0)
    )
    assert scores["meets_target"].to_list() == [False, False]
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "bronze.events" in check.description
    meta = result.asset_materializations_for_node("quality__quality_scores")[0].metadata
    assert meta["dagster/row_count"].value == 2

    # A re-run with a 3 h timeliness threshold replaces the range instead of appending.
    assert _materialize(bronze, timeliness_minutes=180.0).success
    again = read_scores(bronze).sort("date")
    assert again.height == 2
    assert again["timeliness"].to_list() == pytest.approx([1.0, 1.0])


def test_bad_config_fails_clearly(bronze):
    result = _materialize(bronze, days=0)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "need days >= 1" in failure.event_specific_data.error.message


def test_asset_key_and_group():
    assert quality_scores.key == QUALITY_SCORES
    assert quality_scores.group_names_by_key[QUALITY_SCORES] == "quality"
