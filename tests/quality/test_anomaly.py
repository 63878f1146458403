"""Anomaly detectors on a synthetic event stream with a daily cycle, and the injected incidents."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from bench.anomaly import score
from lake.simulator.incidents import Incident, inject, synthetic_stream
from quality.anomaly import DetectorConfig, detect, group_alerts

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
END = START + dt.timedelta(weeks=5)
EVALUATE_FROM = END - dt.timedelta(weeks=1)
INCIDENT_AT = END - dt.timedelta(days=2, hours=9, minutes=20)  # 12:40 two days before the end


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    """Five weeks of 'Workout Started' ~60/h and 'Feature Used' ~30/h, with a daily cycle."""
    return synthetic_stream(
        START,
        END,
        {
            "Workout Started": (60, {"program_id": "p1", "duration": 30}),
            "Feature Used": (30, {"feature": "timer"}),
        },
        seed=5,
    )


def _alerts(frame: pl.DataFrame) -> pl.DataFrame:
    return group_alerts(detect(frame, EVALUATE_FROM, END))


def _only(alerts: pl.DataFrame, family: str) -> dict:
    assert alerts["family"].to_list() == [family], alerts
    return alerts.row(0, named=True)


def test_normal_data_raises_no_alert(frame):
    assert _alerts(frame).is_empty()


def test_an_event_type_going_missing_is_flagged_within_the_hour(frame):
    incident = Incident(
        "volume_drop", INCIDENT_AT, dt.timedelta(hours=3), series="Feature Used", keep=0.0
    )
    alert = _only(_alerts(inject(frame, incident)), "volume_drop")
    assert alert["series"] == "Feature Used"
    assert INCIDENT_AT < alert["first_flagged"] <= INCIDENT_AT + dt.timedelta(hours=1)
    raw = detect(inject(frame, incident), EVALUATE_FROM, END)
    assert "missing" in raw["kind"].to_list()  # zero observed against a real expectation


def test_a_partial_volume_drop_is_flagged(frame):
    incident = Incident(
        "volume_drop", INCIDENT_AT, dt.timedelta(hours=3), series="Workout Started", keep=0.2
    )
    alert = _only(_alerts(inject(frame, incident)), "volume_drop")
    assert alert["series"] == "Workout Started"
    assert alert["first_flagged"] <= INCIDENT_AT + dt.timedelta(hours=1)


def test_a_tracking_bug_nulling_a_property_is_flagged_on_that_property(frame):
    incident = Incident(
        "null_property",
        INCIDENT_AT,
        dt.timedelta(hours=2),
        series="Workout Started",
        prop="duration",
        share=0.5,
    )
    alert = _only(_alerts(inject(frame, incident)), "null_rate")
    assert (alert["series"], alert["property"]) == ("Workout Started", "duration")
    assert alert["first_flagged"] <= INCIDENT_AT + dt.timedelta(hours=1)


def test_a_duplicate_storm_is_flagged_once_and_not_as_a_volume_spike(frame):
    incident = Incident("duplicate_storm", INCIDENT_AT, dt.timedelta(hours=2), factor=2)
    dirty = inject(frame, incident)
    assert dirty.height > frame.height and dirty["message_id"].n_unique() == frame.height
    alert = _only(_alerts(dirty), "duplicates")
    assert alert["first_flagged"] <= INCIDENT_AT + dt.timedelta(hours=1)


def test_a_late_data_surge_is_flagged(frame):
    incident = Incident("late_surge", INCIDENT_AT, dt.timedelta(hours=2), events=300)
    alert = _only(_alerts(inject(frame, incident)), "late")
    assert alert["first_flagged"] <= INCIDENT_AT + dt.timedelta(hours=1)


def test_windows_must_be_multiples_of_the_step():
    with pytest.raises(ValueError, match="multiple of step"):
        DetectorConfig(windows=(dt.timedelta(minutes=20),))
    with pytest.raises(ValueError, match="needs a series"):
        Incident("volume_drop", INCIDENT_AT, dt.timedelta(hours=1))


def test_scoring_counts_detections_within_the_hour_and_attributes_alerts():
    at = INCIDENT_AT
    drop = Incident("volume_drop", at, dt.timedelta(hours=2), series="A")
    storm = Incident("duplicate_storm", at + dt.timedelta(days=1), dt.timedelta(hours=2))

    def alert(family, series, minutes_after, base=at):
        return {
            "family": family,
            "series": series,
            "property": None,
            "first_flagged": base + dt.timedelta(minutes=minutes_after),
            "last_flagged": base + dt.timedelta(minutes=minutes_after),
            "windows": 1,
            "min_p_value": 1e-9,
        }

    alerts = pl.DataFrame(
        [
            alert("volume_drop", "A", 30),  # detects the drop
            alert("duplicates", "*", 90, storm.start),  # storm, but too late to count
            alert("volume_drop", "B", 60 * 30),  # unrelated: a false alarm
        ]
    )
    result = score([drop, storm], alerts, alerts.head(0), seed=1, events=10)
    assert (result.detected, result.incidents, result.delays_minutes) == (1, 2, [30.0])
    assert (result.attributable, result.alerts) == (2, 3)
    assert [m["kind"] for m in result.missed] == ["duplicate_storm"]
