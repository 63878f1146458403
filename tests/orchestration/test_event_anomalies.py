"""The ``event_anomalies`` asset over real bronze Delta data: detection, table, check, re-runs."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
from deltalake import DeltaTable

from lake.simulator.incidents import Incident, inject, synthetic_stream
from lake.tables import EVENTS_SCHEMA
from lake.writer import DeltaSink
from orchestration.assets.quality import ANOMALIES_TABLE, event_anomalies
from orchestration.resources import PulseResource

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
END = START + dt.timedelta(weeks=4, days=2)
DROP_AT = END - dt.timedelta(hours=5)


def _write_bronze(settings, frame: pl.DataFrame) -> None:
    rows = frame.select(
        "message_id",
        type=pl.lit("track"),
        event=pl.col("series"),
        timestamp=pl.col("timestamp"),
        received_at=pl.col("received_at"),
        properties=pl.col("properties"),
        source_id=pl.lit("test"),
        collector_id=pl.lit("test"),
        sequence=pl.int_range(pl.len(), dtype=pl.Int64),
        event_date=pl.col("timestamp").dt.date(),
    )
    table = rows.to_arrow()
    columns = {name: table.column(name) for name in table.column_names}
    arrays = [
        columns[f.name].cast(f.type)
        if f.name in columns
        else pl.Series([None] * table.num_rows).to_arrow().cast(f.type)
        for f in EVENTS_SCHEMA
    ]
    import pyarrow as pa

    DeltaSink(settings, tables=("events",)).append(
        "events", pa.Table.from_arrays(arrays, schema=EVENTS_SCHEMA)
    )


def _materialize(settings) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [event_anomalies],
        resources={"pulse": PulseResource.from_settings(settings)},
        raise_on_error=True,
    )


def test_a_dropped_event_type_in_bronze_is_stored_and_fails_the_check(pulse_settings):
    stream = synthetic_stream(
        START, END, {"Workout Started": (60, {"duration": 30}), "App Opened": (80, {})}, seed=2
    )
    incident = Incident(
        "volume_drop", DROP_AT, dt.timedelta(hours=5), series="Workout Started", keep=0
    )
    _write_bronze(pulse_settings, inject(stream, incident))

    result = _materialize(pulse_settings)
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "volume_drop on Workout Started" in check.description

    path = pulse_settings.table_path(*ANOMALIES_TABLE)
    stored = pl.read_delta(str(path))
    assert set(stored["series"]) == {"Workout Started"}
    assert set(stored["kind"]) <= {"volume_drop", "missing"}
    assert stored["window_end"].min() <= DROP_AT + dt.timedelta(hours=1)
    metadata = result.asset_materializations_for_node("quality__event_anomalies")[0].metadata
    assert metadata["anomalous_windows"].value == stored.height > 0

    # A re-run replaces the evaluated range instead of appending it again.
    _materialize(pulse_settings)
    assert pl.read_delta(str(path)).height == stored.height
    assert DeltaTable(str(path)).version() == 1


def test_without_bronze_data_the_asset_reports_nothing_to_do(pulse_settings):
    result = _materialize(pulse_settings)
    assert result.get_asset_check_evaluations()[0].passed
    metadata = result.asset_materializations_for_node("quality__event_anomalies")[0].metadata
    assert metadata["anomalies"].value == 0
