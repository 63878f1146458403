"""The System page (AppTest) on a copy of the shared demo's data dir, with health probes, host
samples, a failed Dagster run and two alerts seeded the way the platform writes them: the API
numbers equal an independent recomputation from the mart; uptime equals one from the probes;
on-call acknowledges and resolves an alert in the store; the collector's state is shown live or
said to be down; filters come from the URL; an empty data dir shows empty states."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest
import streamlit as st
from app_users import as_user
from streamlit.testing.v1 import AppTest

from analytics.charts import format_change, format_value
from core.settings import Settings, get_settings

pytestmark = pytest.mark.integration

PAGE = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views" / "system.py")
START, END = dt.date(2026, 2, 8), dt.date(2026, 2, 21)  # the two weeks before are in the data
NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
DOWN = range(100, 103)  # probe minutes the collector was down


def _copy(source: Path, target: Path) -> Settings:
    """The parts of a data dir the page reads (lake, Dagster instance, metadata DB)."""
    target.mkdir(parents=True)
    shutil.copytree(source / "lake", target / "lake")
    shutil.copytree(source / "dagster_home", target / "dagster_home")
    shutil.copy2(source / "pulse.db", target / "pulse.db")
    return Settings(data_dir=target)


def _seed(settings: Settings) -> dict[str, int]:
    import dagster as dg

    from core.metadata import engine_for
    from orchestration.alerting.store import Occurrence, raise_alert, record_occurrence
    from orchestration.materialize import instance_for
    from orchestration.monitoring import append

    probes, host = [], []
    for i in range(180):
        at = NOW - dt.timedelta(minutes=180 - i)
        for service in ("collector", "dagster", "streamlit"):
            ok = not (service == "collector" and i in DOWN)
            probes.append(
                {
                    "probed_at": at,
                    "service": service,
                    "url": f"http://127.0.0.1/{service}",
                    "ok": ok,
                    "status_code": 200 if ok else None,
                    "latency_ms": 5.0,
                    "error": None if ok else "ConnectError: refused",
                }
            )
        host.append(
            {
                "sampled_at": at,
                "host": "test",
                "cpu_percent": 20.0 + i % 10,
                "load_1m": 1.0,
                "memory_used_bytes": 1,
                "memory_percent": 30.0,
                "disk_used_bytes": 1,
                "disk_free_bytes": 1,
                "disk_percent": 25.0,
            }
        )
    append(settings, "service_probes", probes)
    append(settings, "host_telemetry", host)
    engine = engine_for(settings)
    flush_lag, _ = record_occurrence(  # type: ignore[misc]
        engine,
        Occurrence(
            rule="collector-flush-lag",
            target="collector",
            severity="error",
            source="metric",
            message="Collector flush lag 95 s over 10 minutes (threshold 60 s)",
            since=NOW - dt.timedelta(minutes=12),
        ),
    )
    check = raise_alert(
        engine,
        severity="warning",
        source="asset_check",
        asset_key="fct_sessions",
        check_name="gx_fct_sessions",
        message="marts.fct_sessions_suite: 8/9 expectations passed",
    )

    @dg.asset
    def seeded_failure() -> None:
        raise RuntimeError("seeded failure")

    dg.materialize([seeded_failure], instance=instance_for(settings), raise_on_error=False)
    return {"flush_lag": flush_lag, "check": check}  # type: ignore[dict-item]


@pytest.fixture(scope="module")
def platform(demo_run, tmp_path_factory):
    settings = _copy(demo_run[0], tmp_path_factory.mktemp("system") / "data")
    alerts = _seed(settings)
    with _env(settings.data_dir) as port:
        yield settings, alerts, port


class _env:
    """PULSE_DATA_DIR (and a collector port nobody listens on) for the page, fresh caches."""

    def __init__(self, data_dir: Path) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.data_dir = data_dir
        self.mp = pytest.MonkeyPatch()

    def __enter__(self) -> int:
        self.mp.setenv("PULSE_DATA_DIR", str(self.data_dir))
        self.mp.setenv("PULSE_COLLECTOR_PORT", str(self.port))
        _fresh()
        return self.port

    def __exit__(self, *exc: object) -> None:
        self.mp.undo()
        _fresh()


def _fresh() -> None:
    get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()


def _run(params: dict | None = None, role: str = "analyst") -> AppTest:
    at = as_user(AppTest.from_file(PAGE, default_timeout=120), role)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run()


def _metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _text(at: AppTest) -> str:
    parts = [*at.caption, *at.markdown, *at.info, *at.warning, *at.success]
    return "\n".join(p.value for p in parts)


def _mart(settings: Settings, start: dt.date, end: dt.date) -> pl.DataFrame:
    from lake import gold

    return pl.read_parquet(gold.mart_path(settings, "sys_api_latency_hourly")).filter(
        pl.col("request_date").is_between(start, end)
    )


def _expected(hourly: pl.DataFrame) -> dict[str, float]:
    timed = hourly.filter(pl.col("p95_latency_ms").is_not_null() & (pl.col("timed_requests") > 0))
    return {
        "requests": float(hourly["requests"].sum()),
        "error_rate": hourly["server_errors"].sum() / hourly["requests"].sum(),
        "p95": float(
            (timed["p95_latency_ms"] * timed["timed_requests"]).sum()
            / timed["timed_requests"].sum()
        ),
    }


def test_api_cards_and_endpoints_equal_an_independent_recomputation(platform):
    settings, _, _ = platform
    at = _run({"range": [str(START), str(END)]})
    assert not at.exception, [e.message for e in at.exception]
    shown = _metrics(at)
    now = _expected(_mart(settings, START, END))
    before = _expected(_mart(settings, START - dt.timedelta(days=14), START - dt.timedelta(1)))

    def change(key: str) -> str:
        return format_change((now[key] - before[key]) / before[key])

    assert shown["API requests"] == (
        format_value(now["requests"], "count", compact=True),
        change("requests"),
    )
    assert shown["API error rate"] == (
        format_value(now["error_rate"], "percent"),
        change("error_rate"),
    )
    assert shown["API p95 latency"] == (format_value(now["p95"], "ms"), change("p95"))
    table = next(d.value for d in at.dataframe if "endpoint" in d.value.columns)
    hourly = _mart(settings, START, END)
    weight = pl.col("timed_requests").filter(pl.col("p95_latency_ms").is_not_null())
    per = (
        hourly.group_by("endpoint")
        .agg(
            requests=pl.col("requests").sum(),
            error_rate=pl.col("server_errors").sum() / pl.col("requests").sum(),
            p95=(pl.col("p95_latency_ms") * pl.col("timed_requests")).sum() / weight.sum(),
        )
        .sort(["error_rate", "p95"], descending=True)  # worst first: 5xx share, then p95
    )
    assert table["endpoint"].tolist() == per["endpoint"].to_list()
    assert table["requests"].tolist() == per["requests"].to_list()
    assert table["error_rate"].tolist() == pytest.approx(per["error_rate"].to_list())


# Before the on-call test below, which acknowledges that alert.
def test_a_viewer_sees_the_alerts_but_is_refused_acknowledging_one(platform):
    from core.metadata import engine_for
    from orchestration.alerting.store import get_alert

    settings, alerts, _ = platform
    engine = engine_for(settings)
    before = get_alert(engine, alerts["flush_lag"]).alert.status
    at = _run(role="viewer")
    assert "collector-flush-lag" in _text(at)
    at.button(key=f"system_ack_{alerts['flush_lag']}").click().run()
    assert not at.exception
    assert any("Your role (viewer) can view but not edit alerts" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    assert get_alert(engine, alerts["flush_lag"]).alert.status == before


def test_on_call_acknowledges_and_resolves_a_seeded_alert(platform):
    from core.metadata import engine_for
    from orchestration.alerting.store import get_alert, history

    settings, alerts, _ = platform
    engine = engine_for(settings)
    at = _run()
    assert _metrics(at)["Open alerts"][0] == "2"
    assert "collector-flush-lag" in _text(at)
    at.button(key=f"system_ack_{alerts['flush_lag']}").click().run()
    assert not at.exception
    view = get_alert(engine, alerts["flush_lag"])
    assert view.alert.status == "acknowledged" and view.acknowledged_by == "test-analyst"
    # acknowledged alerts stay listed (no Acknowledge button any more) until resolved
    assert not any(b.key == f"system_ack_{alerts['flush_lag']}" for b in at.button)
    at.button(key=f"system_resolve_{alerts['check']}").click().run()
    assert get_alert(engine, alerts["check"]).alert.status == "resolved"
    assert _metrics(at)["Open alerts"][0] == "1"
    events = [h.event for h in history(engine, alerts["check"])]
    assert events == ["raised", "resolved"]


def test_uptime_runs_host_and_a_collector_that_is_down(platform):
    settings, _, port = platform
    at = _run({"window": "Last 24 hours"})  # bound to the URL by its label
    assert not at.exception, [e.message for e in at.exception]
    probes = pl.read_delta(str(settings.table_path("system", "service_probes")))
    rounds = probes.group_by("probed_at").agg(pl.col("ok").all())
    platform_uptime = rounds["ok"].mean()
    shown = _metrics(at)
    assert shown["Platform uptime"][0] == format_value(platform_uptime, "percent")
    assert shown["Last pipeline run"][0] == "Failure"
    assert f"127.0.0.1:{port}/metrics" in _text(at) and "not running" in _text(at)
    # Per-service uptime and the host are tabs of their own, chosen in the URL.
    at = _run({"window": "Last 24 hours", "tab": "Uptime"})
    assert not at.exception, [e.message for e in at.exception]
    collector = probes.filter(pl.col("service") == "collector")["ok"].mean()
    assert _metrics(at)["Collector"][0] == format_value(collector, "percent")
    assert f"downtime {len(DOWN)} min" in _text(at)
    at = _run({"window": "Last 24 hours", "tab": "Host"})
    assert not at.exception, [e.message for e in at.exception]
    assert "No host history" not in _text(at) and "Host" in [t.label for t in at.tabs]
    at = _run({"window": "Last 24 hours", "tab": "Pipeline runs"})
    assert not at.exception, [e.message for e in at.exception]
    from orchestration.materialize import instance_for

    runs = instance_for(settings).get_run_records()
    recent = [r for r in runs if r.create_timestamp >= NOW - dt.timedelta(hours=23)]
    shown = _metrics(at)
    assert shown["Failed runs"][0] == "1"
    assert shown["Runs (last 24 hours)"][0] == str(len(recent)) and len(recent) >= 1


def test_a_running_collector_is_read_live(platform):
    from lake.collector.metrics import CollectorMetrics

    metrics = CollectorMetrics("test-collector")
    metrics.received.inc(500)
    metrics.accepted.inc(480)
    metrics.gauge("pulse_collector_flush_lag_seconds", "lag", lambda: 2.5)
    metrics.gauge("pulse_collector_wal_pending_events", "pending", lambda: 17.0)
    metrics.gauge("pulse_collector_flusher_alive", "alive", lambda: 1.0)
    metrics.observe_latency("/v1/batch", 0.004)

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = metrics.render()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", platform[2]), Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        at = _run()
    finally:
        server.shutdown()
        server.server_close()
    shown = _metrics(at)
    assert shown["Flush lag"][0] == "2.5 s" and shown["WAL backlog"][0] == "17"
    assert "`test-collector` · flusher running · 500 received" in _text(at)
    routes = next(d.value for d in at.dataframe if "route" in d.value.columns)
    assert routes["route"].tolist() == ["/v1/batch"]


def test_measure_window_and_a_drilled_day_come_from_the_url(platform):
    settings, _, _ = platform
    day = dt.date(2026, 2, 14)
    at = _run(
        {
            "range": [str(START), str(END)],
            "drill": "day:2026-02-14",
            "measure": "Error rate (5xx)",
            "window": "Last 30 days",
        }
    )
    assert not at.exception, [e.message for e in at.exception]
    one = _expected(_mart(settings, day, day))
    assert _metrics(at)["API p95 latency"][0] == format_value(one["p95"], "ms")
    text = _text(at)
    assert "Feb 14, 2026" in text and "last 30 days" in text
    assert "Click a day" not in text  # a single day shows its hours: nothing left to drill
    assert any(b.label == "Undo" for b in at.button)  # the breadcrumb


def test_an_empty_data_dir_shows_what_to_run(tmp_path):
    with _env(tmp_path / "data"):
        at = _run()
    assert not at.exception, [e.message for e in at.exception]
    text = _text(at)
    assert "No published data yet" in text and "No open alerts." in text
    assert "No Dagster run yet" in text and "No health probes" in text
    assert "Nothing published yet" in text
