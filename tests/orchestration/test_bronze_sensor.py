"""The bronze/events sensor: one run per new Delta version (cursor = version), for the newest
event-date partition; nothing when nothing changed."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pyarrow as pa
from deltalake import write_deltalake

from orchestration.resources import PulseResource
from orchestration.sensors.bronze import build_bronze_events_sensor


def _append(path, day: dt.date) -> None:
    table = pa.table({"n": [1], "event_date": pa.array([day], pa.date32())})
    write_deltalake(str(path), table, mode="append", partition_by=["event_date"])


def test_sensor_requests_a_run_per_new_delta_version(pulse_settings):
    sensor = build_bronze_events_sensor(partitioned=True)
    resources = {"pulse": PulseResource.from_settings(pulse_settings)}
    path = pulse_settings.table_path("bronze", "events")
    with dg.instance_for_test() as instance:

        def tick(cursor=None):
            return sensor(
                dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
            )

        assert isinstance(tick(), dg.SkipReason)  # no table yet
        _append(path, dt.date(2026, 3, 1))
        _append(path, dt.date(2026, 3, 2))
        first = tick()
        [request] = first.run_requests
        assert first.cursor == "1"
        assert request.partition_key == "2026-03-02"
        assert request.run_key == "bronze-events-v1"
        assert isinstance(tick(first.cursor), dg.SkipReason)  # nothing new
        _append(path, dt.date(2026, 2, 27))  # a late event: the partition stays the newest one
        second = tick(first.cursor)
        assert second.cursor == "2"
        assert second.run_requests[0].partition_key == "2026-03-02"
