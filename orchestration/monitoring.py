"""Self-monitoring: host telemetry, service health probes and lake capacity, as Delta tables.

* :func:`sample_host` — CPU, load, memory and the data directory's disk (psutil);
* :func:`probe_services` — the collector's ``/ready`` (plus its flush lag and WAL backlog from
  ``/metrics``), the Dagster webserver's ``/server_info`` and Streamlit's ``/_stcore/health``:
  one row per service with ok, status and latency. Uptime is the share of ok probes;
* :func:`lake_capacity` — rows and live bytes per Delta table, events per day, from the Delta
  logs only (file statistics: no data is read), plus bytes on disk (every retained version).

Samples are appended to ``system/host_telemetry`` and ``system/service_probes`` by the
``platform_telemetry`` sensor; the ``platform_health`` asset turns them into the daily system mart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from core.settings import Settings

UTC_TS = pa.timestamp("us", tz="UTC")
HOST_TELEMETRY = pa.schema(
    [
        pa.field("sampled_at", UTC_TS, nullable=False),
        pa.field("host", pa.string(), nullable=False),
        pa.field("cpu_percent", pa.float64()),
        pa.field("load_1m", pa.float64()),
        pa.field("memory_used_bytes", pa.int64()),
        pa.field("memory_percent", pa.float64()),
        pa.field("disk_used_bytes", pa.int64()),
        pa.field("disk_free_bytes", pa.int64()),
        pa.field("disk_percent", pa.float64()),
    ]
)
SERVICE_PROBES = pa.schema(
    [
        pa.field("probed_at", UTC_TS, nullable=False),
        pa.field("service", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("ok", pa.bool_(), nullable=False),
        pa.field("status_code", pa.int32()),
        pa.field("latency_ms", pa.float64()),
        pa.field("error", pa.string()),
        pa.field("flush_lag_seconds", pa.float64()),  # collector only
        pa.field("wal_pending_events", pa.float64()),  # collector only
    ]
)
TELEMETRY_TABLES = {"host_telemetry": HOST_TELEMETRY, "service_probes": SERVICE_PROBES}


def service_urls(settings: Settings) -> dict[str, str]:
    """The health URL of every long-running service (the same ones `pulse serve` waits for)."""
    host = settings.host
    return {
        "collector": f"http://{host}:{settings.collector_port}/ready",
        "dagster": f"http://{host}:{settings.dagster_port}/server_info",
        "streamlit": f"http://{host}:{settings.streamlit_port}/_stcore/health",
    }


def sample_host(settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    import psutil

    memory = psutil.virtual_memory()
    disk_dir = settings.data_dir if settings.data_dir.exists() else Path("/")
    disk = psutil.disk_usage(str(disk_dir))
    return {
        "sampled_at": now or dt.datetime.now(dt.UTC),
        "host": socket.gethostname(),
        "cpu_percent": psutil.cpu_percent(interval=0.2),
        "load_1m": os.getloadavg()[0],
        "memory_used_bytes": memory.total - memory.available,
        "memory_percent": memory.percent,
        "disk_used_bytes": disk.used,
        "disk_free_bytes": disk.free,
        "disk_percent": disk.percent,
    }


def _scrape(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None


def probe_services(
    settings: Settings, timeout: float = 2.0, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    import httpx

    probed_at = now or dt.datetime.now(dt.UTC)
    rows = []
    with httpx.Client(timeout=timeout) as client:
        for service, url in service_urls(settings).items():
            row: dict[str, Any] = {"probed_at": probed_at, "service": service, "url": url}
            started = time.perf_counter()
            try:
                response = client.get(url)
                row["status_code"] = response.status_code
                row["ok"] = response.status_code == 200
                if not row["ok"]:
                    row["error"] = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                row["ok"] = False
                row["error"] = f"{type(exc).__name__}: {exc}"[:300]
            row["latency_ms"] = (time.perf_counter() - started) * 1000
            if service == "collector" and row.get("status_code") is not None:
                try:
                    text = client.get(url.rsplit("/", 1)[0] + "/metrics").text
                    row["flush_lag_seconds"] = _scrape(text, "pulse_collector_flush_lag_seconds")
                    row["wal_pending_events"] = _scrape(text, "pulse_collector_wal_pending_events")
                except httpx.HTTPError:
                    pass
            rows.append(row)
    return rows


def append(settings: Settings, table: str, rows: list[dict[str, Any]]) -> int:
    """Append rows to ``system/<table>`` (one commit; the table is created on first use)."""
    from lake.writer import append_table

    if not rows:
        return 0
    schema = TELEMETRY_TABLES[table]
    data = pa.Table.from_arrays(
        [pa.array([r.get(f.name) for r in rows], type=f.type) for f in schema], schema=schema
    )
    return append_table(settings.table_path("system", table), data)


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # removed while walking (vacuum)
                total += os.path.getsize(os.path.join(root, name))
    return total


def lake_capacity(settings: Settings) -> dict[str, Any]:
    """Per Delta table: live rows and bytes (from the log), bytes on disk; events per day."""
    from deltalake import DeltaTable

    tables: dict[str, dict[str, int]] = {}
    events_per_day: dict[dt.date, int] = {}
    lake = settings.lake_dir
    if lake.exists():
        for log_dir in sorted(lake.glob("*/*/_delta_log")):
            path = log_dir.parent
            name = f"{path.parent.name}/{path.name}"
            actions = pa.table(DeltaTable(str(path)).get_add_actions(flatten=True))
            rows = actions.column("num_records").to_pylist() if actions.num_rows else []
            tables[name] = {
                "rows": int(sum(r or 0 for r in rows)),
                "live_bytes": int(sum(actions.column("size_bytes").to_pylist()))
                if actions.num_rows
                else 0,
                "disk_bytes": _dir_bytes(path),
                "files": actions.num_rows,
            }
            if name == "bronze/events" and "partition.event_date" in actions.column_names:
                for day, n in zip(
                    actions.column("partition.event_date").to_pylist(), rows, strict=True
                ):
                    if day is not None:
                        events_per_day[day] = events_per_day.get(day, 0) + int(n or 0)
    return {
        "tables": tables,
        "events_per_day": dict(sorted(events_per_day.items())),
        "lake_bytes": _dir_bytes(lake) if lake.exists() else 0,
        "data_dir_bytes": _dir_bytes(settings.data_dir) if settings.data_dir.exists() else 0,
    }
