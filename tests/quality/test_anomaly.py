"""Anomaly detectors on a synthetic event stream with a daily cycle, and the injected incidents."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from bench.anomaly import score
from lake.simulator.incidents import (
    Incident,
    inject,
    random_incidents,
    series_name,
    synthetic_stream,
)
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
        DetectorConfig(windows=(dt.timedelta(minutes=22),))
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


def test_an_outage_starting_mid_step_is_judged_on_its_own_span(frame):
    """The silence detector starts the window at the last event seen, so the minutes before the
    outage do not dilute it: flagged as `missing` well within the hour."""
    at = INCIDENT_AT + dt.timedelta(minutes=2)  # between two 5-minute steps
    incident = Incident("volume_drop", at, dt.timedelta(hours=3), series="Feature Used", keep=0.0)
    raw = detect(inject(frame, incident), EVALUATE_FROM, END)
    silences = raw.filter(
        (pl.col("kind") == "missing") & (pl.col("window_start") >= INCIDENT_AT)
    ).sort("window_end")
    assert not silences.is_empty(), raw
    first = silences.row(0, named=True)
    assert first["series"] == "Feature Used" and first["observed"] == 0
    assert at - dt.timedelta(minutes=5) <= first["window_start"] <= at + dt.timedelta(minutes=5)
    assert first["window_end"] <= at + dt.timedelta(hours=1)


def test_an_optional_property_sent_as_null_is_flagged_by_its_explicit_nulls(frame):
    """`section` is absent from 60 % of events (normal: too often absent for the absent-or-null
    rate to be watched); a bug that sends it as JSON null is still caught."""
    rng = np.random.default_rng(3)
    home = frame.filter(pl.col("series") == "Feature Used").with_columns(
        series=pl.lit("screen:Home"),
        message_id=pl.col("message_id") + "-home",
        properties=pl.Series(
            np.where(
                rng.random(frame.filter(pl.col("series") == "Feature Used").height) < 0.4,
                '{"section":"for_you"}',
                "{}",
            )
        ),
    )
    with_home = pl.concat([frame, home]).sort("timestamp")
    assert _alerts(with_home).is_empty()
    incident = Incident(
        "null_property",
        INCIDENT_AT,
        dt.timedelta(hours=2),
        series="screen:Home",
        prop="section",
        share=1.0,
    )
    alert = _only(_alerts(inject(with_home, incident)), "null_rate")
    assert (alert["series"], alert["property"]) == ("screen:Home", "section")
    assert alert["first_flagged"] <= INCIDENT_AT + dt.timedelta(hours=1)


def test_screens_and_pages_are_series_of_their_own():
    assert series_name("screen", None, "Home") == "screen:Home"
    assert series_name("page", None, "Pricing") == "page:Pricing"
    assert series_name("screen", None, None) == "screen"
    assert series_name("track", "Workout Started", None) == "Workout Started"
    assert series_name("track", None, None) is None
    assert series_name("identify", None, None) == "identify"


def test_volume_incidents_go_where_a_drop_is_detectable_within_the_hour():
    """A 5-events-an-hour series can never show a drop within the hour: volume incidents are
    drawn on series (and at hours of day) that carry enough effective events."""
    start = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    stream = synthetic_stream(
        start,
        start + dt.timedelta(weeks=3),
        {"Busy": (40, {"k": 1}), "Rare": (5, {"k": 1})},
        seed=2,
    )
    evaluate_from = start + dt.timedelta(weeks=2)
    incidents = random_incidents(stream, evaluate_from, start + dt.timedelta(weeks=3), 8, seed=4)
    drops = [i for i in incidents if i.kind == "volume_drop"]
    assert drops and {i.series for i in drops} == {"Busy"}
    # Busy sends 20/h at the trough of its daily cycle (00:00 UTC), 60/h at the peak: it carries
    # 30 an hour only from about 04:00 to 20:00
    assert all(3 <= i.start.hour <= 20 for i in drops), [i.start for i in drops]
