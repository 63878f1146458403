"""Self-monitoring: the telemetry sensor probes real HTTP services; the system mart summarises."""

from __future__ import annotations

import datetime as dt
import http.server
import socket
import threading

import dagster as dg
import polars as pl
import pyarrow as pa
import pytest

from core.settings import Settings, get_settings
from lake.tables import EVENTS_SCHEMA
from lake.writer import DeltaSink
from orchestration.assets.platform import platform_health, platform_telemetry
from orchestration.monitoring import append, probe_services
from orchestration.resources import PulseResource

METRICS = b"""# HELP pulse_collector_flush_lag_seconds Age of the oldest unflushed WAL record
pulse_collector_flush_lag_seconds 2.5
pulse_collector_wal_pending_events 1234.0
"""


class _Collector(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = METRICS if self.path == "/metrics" else b'{"status": "ready"}'
        self.send_response(200 if self.path in ("/ready", "/metrics") else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """A collector answering on a real HTTP server; Dagster and Streamlit ports with nobody there.

    Set through the environment, as the sensor reads its settings from it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PULSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PULSE_COLLECTOR_PORT", str(server.server_address[1]))
    monkeypatch.setenv("PULSE_DAGSTER_PORT", str(_free_port()))
    monkeypatch.setenv("PULSE_STREAMLIT_PORT", str(_free_port()))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
    server.shutdown()


def test_probes_report_up_and_down_services_and_scrape_the_collector(settings):
    probes = {p["service"]: p for p in probe_services(settings, timeout=1.0)}
    assert probes["collector"]["ok"] and probes["collector"]["status_code"] == 200
    assert probes["collector"]["flush_lag_seconds"] == 2.5
    assert probes["collector"]["wal_pending_events"] == 1234.0
    for service in ("dagster", "streamlit"):
        assert not probes[service]["ok"] and "ConnectError" in probes[service]["error"]


def test_sensor_appends_samples_and_the_mart_computes_uptime_runs_lag_and_capacity(settings):
    instance = dg.DagsterInstance.ephemeral()
    resources = {"pulse": PulseResource.from_settings(settings)}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        reason = platform_telemetry(context)
    assert "down: dagster, streamlit" in reason.skip_message
    # Three more probe rounds earlier today, one with the collector down: 3/4 ok for the day.
    now = dt.datetime.now(dt.UTC)
    earlier = [now - dt.timedelta(minutes=m) for m in (1, 2, 3)]
    for i, at in enumerate(earlier):
        rows = probe_services(settings, timeout=1.0, now=at)
        if i == 0:
            rows[0] = {**rows[0], "ok": False, "error": "HTTP 503", "status_code": 503}
        append(settings, "service_probes", rows)

    day = now.date()
    events = pa.table(
        {
            "message_id": ["a", "b", "c"],
            "type": ["track"] * 3,
            "timestamp": pa.array([now] * 3, type=pa.timestamp("us", tz="UTC")),
            "received_at": pa.array([now] * 3, type=pa.timestamp("us", tz="UTC")),
            "source_id": ["s"] * 3,
            "collector_id": ["c"] * 3,
            "sequence": [1, 2, 3],
            "event_date": pa.array([day, day, day - dt.timedelta(days=1)], type=pa.date32()),
        }
    )
    full = pa.Table.from_arrays(
        [
            events.column(f.name).cast(f.type)
            if f.name in events.column_names
            else pa.nulls(3, f.type)
            for f in EVENTS_SCHEMA
        ],
        schema=EVENTS_SCHEMA,
    )
    DeltaSink(settings, tables=("events",)).append("events", full)

    result = dg.materialize([platform_health], resources=resources, instance=instance)
    assert result.success
    mart = pl.read_delta(str(settings.table_path("system", "platform_metrics")))

    def value(category, name, dimension, date=day):
        rows = mart.filter(
            (pl.col("category") == category)
            & (pl.col("name") == name)
            & (pl.col("dimension") == dimension)
            & (pl.col("date") == date)
        )
        assert rows.height == 1, (category, name, dimension, mart)
        return rows.row(0, named=True)

    uptime = value("uptime", "uptime_percent", "collector")
    assert uptime["value"] == 75.0 and uptime["target"] == 99.5
    assert value("uptime", "uptime_percent", "dagster")["value"] == 0.0
    assert value("collector", "flush_lag_seconds_max", "collector")["value"] == 2.5
    assert value(
        "host", "memory_percent_max", mart.filter(pl.col("category") == "host")["dimension"][0]
    )
    assert value("capacity", "events", "bronze/events")["value"] == 2
    assert value("capacity", "events", "bronze/events", day - dt.timedelta(days=1))["value"] == 1
    assert value("capacity", "rows", "bronze/events")["value"] == 3
    assert value("capacity", "lake_bytes", "")["value"] > 0
    # The run that materialized the mart is visible to the next one; lag is per asset.
    dg.materialize([platform_health], resources=resources, instance=instance)
    mart = pl.read_delta(str(settings.table_path("system", "platform_metrics")))
    assert value("runs", "runs", "__ephemeral_asset_job__")["value"] >= 1
    assert value("lag", "hours_since_materialization", "system/platform_health")["value"] < 0.1
    # Idempotent: the re-run replaced its days instead of appending them again.
    assert mart.filter(pl.col("name") == "uptime_percent").height == 3
