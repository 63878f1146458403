"""The System and Data quality pages' handles on the platform's own records, one per process
and data dir: the platform tables (:class:`analytics.system_tables.SystemTables`), the Dagster
instance (read-only: run records), the host (psutil, now) and the collector's live ``/metrics``.
Everything here reads; nothing starts, stops or writes."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import polars as pl
import streamlit as st

from analytics.operations import RUNS_SCHEMA, CollectorSnapshot, parse_collector_metrics
from analytics.system_tables import SystemTables
from core.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False)
def _system_tables(data_dir: str) -> SystemTables:
    return SystemTables(Settings(data_dir=data_dir))


def system_tables() -> SystemTables:
    """The cached reader of the platform tables of the current data dir."""
    return _system_tables(str(settings().data_dir))


# ---- Dagster ---------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _instance(dagster_home: str) -> Any:
    from orchestration.materialize import instance_for

    return instance_for(settings())


@st.cache_data(ttl=30, show_spinner=False)
def dagster_runs(dagster_home: str, limit: int = 200) -> pl.DataFrame | None:
    """The newest ``limit`` runs of the Dagster instance under ``dagster_home`` (job, status,
    created/started/ended, duration, what triggered it), newest first; None when the
    instance has never been created (no run yet)."""
    from pathlib import Path

    if not (Path(dagster_home) / "dagster.yaml").exists():
        return None
    instance = _instance(dagster_home)
    rows = []
    for record in instance.get_run_records(limit=limit):
        run = record.dagster_run
        started = _utc(record.start_time)
        ended = _utc(record.end_time)
        tags = run.tags or {}
        rows.append(
            {
                "run_id": run.run_id,
                "job": run.job_name,
                "status": run.status.value,
                "created_at": record.create_timestamp.astimezone(dt.UTC),
                "started_at": started,
                "ended_at": ended,
                "duration_s": (record.end_time - record.start_time)
                if record.end_time and record.start_time
                else None,
                "trigger": tags.get("pulse/trigger")
                or ("schedule" if "dagster/schedule_name" in tags else None)
                or ("sensor" if "dagster/sensor_name" in tags else None)
                or ("backfill" if "dagster/backfill" in tags else None)
                or "manual",
            }
        )
    return pl.DataFrame(rows, schema=RUNS_SCHEMA)


def _utc(timestamp: float | None) -> dt.datetime | None:
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.UTC)


# ---- host --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HostNow:
    sample: dict[str, Any]  # orchestration.monitoring.sample_host: cpu, load, memory, disk
    net_sent_per_s: float | None  # since the previous sample of this session
    net_recv_per_s: float | None


def host_now(previous: dict[str, float] | None) -> tuple[HostNow, dict[str, float]]:
    """A host sample now (the same fields the platform_telemetry sensor records) and the
    network rate since ``previous`` (the counters the last call returned)."""
    import psutil

    from orchestration.monitoring import sample_host

    sample = sample_host(settings())
    net = psutil.net_io_counters()
    counters = {"at": time.monotonic(), "sent": net.bytes_sent, "recv": net.bytes_recv}
    sent = recv = None
    if previous:
        seconds = counters["at"] - previous["at"]
        if seconds > 0 and counters["sent"] >= previous["sent"]:
            sent = (counters["sent"] - previous["sent"]) / seconds
            recv = (counters["recv"] - previous["recv"]) / seconds
    return HostNow(sample, sent, recv), counters


# ---- collector ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CollectorScrape:
    url: str
    snapshot: CollectorSnapshot | None
    error: str | None
    at: float  # time.monotonic() of the scrape


def collector_url() -> str:
    s = settings()
    return f"http://{s.host}:{s.collector_port}/metrics"


def scrape_collector(timeout: float = 1.0) -> CollectorScrape:
    """One scrape of the collector's ``/metrics``; ``error`` says why when it is unreachable."""
    import httpx

    url = collector_url()
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return CollectorScrape(url, None, f"{type(exc).__name__}: {exc}"[:200], time.monotonic())
    if response.status_code != 200:
        return CollectorScrape(url, None, f"HTTP {response.status_code}", time.monotonic())
    try:
        snapshot = parse_collector_metrics(response.text)
    except ValueError as exc:
        return CollectorScrape(url, None, f"not Prometheus text: {exc}"[:200], time.monotonic())
    if snapshot.collector_id is None:
        return CollectorScrape(url, None, "not a Pulse collector", time.monotonic())
    return CollectorScrape(url, snapshot, None, time.monotonic())
