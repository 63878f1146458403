"""The System page's computations (analytics.operations) on hand-built inputs: API latency
rollups (exact counts and rates, request-weighted percentiles), uptime against 99.5 %, the
collector's Prometheus text, throughput between scrapes and Dagster run summaries."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from analytics.operations import (
    RUNS_SCHEMA,
    histogram_quantile,
    latency_rollup,
    parse_collector_metrics,
    rates,
    run_summary,
    uptime,
    worst_endpoints,
)
from lake.collector.metrics import CollectorMetrics

UTC = dt.UTC
HOURS = [dt.datetime(2026, 2, 1, h, tzinfo=UTC) for h in range(3)]


def _hourly() -> pl.DataFrame:
    """Three hours of two endpoints, as sys_api_latency_hourly stores them."""
    return pl.DataFrame(
        {
            "request_date": [dt.date(2026, 2, 1)] * 4,
            "request_hour": [HOURS[0], HOURS[1], HOURS[0], HOURS[2]],
            "endpoint": ["/v1/feed", "/v1/feed", "/v1/purchases", "/v1/purchases"],
            "requests": [100, 300, 10, 10],
            "timed_requests": [100, 300, 10, 10],
            "p50_latency_ms": [50.0, 70.0, 400.0, 420.0],
            "p95_latency_ms": [100.0, 200.0, 900.0, 1100.0],
            "p99_latency_ms": [150.0, 250.0, 950.0, 1200.0],
            "avg_latency_ms": [55.0, 75.0, 410.0, 430.0],
            "max_latency_ms": [160.0, 260.0, 990.0, 1500.0],
            "server_errors": [1, 2, 1, 0],
            "client_errors": [3, 0, 0, 1],
        }
    )


def test_latency_rollup_is_exact_for_counts_and_weights_percentiles_by_requests():
    total = latency_rollup(_hourly()).row(0, named=True)
    assert total["requests"] == 420 and total["server_errors"] == 4
    assert total["error_rate"] == pytest.approx(4 / 420)
    assert total["client_error_rate"] == pytest.approx(4 / 420)
    assert total["p95_latency_ms"] == pytest.approx(
        (100 * 100 + 200 * 300 + 900 * 10 + 1100 * 10) / 420
    )
    assert total["avg_latency_ms"] == pytest.approx(
        (55 * 100 + 75 * 300 + 410 * 10 + 430 * 10) / 420
    )
    assert total["max_latency_ms"] == 1500.0
    feed = latency_rollup(_hourly(), ["endpoint"]).filter(pl.col("endpoint") == "/v1/feed")
    assert feed["p50_latency_ms"][0] == pytest.approx((50 * 100 + 70 * 300) / 400)
    assert feed["error_rate"][0] == pytest.approx(3 / 400)


def test_an_hour_without_timed_requests_does_not_weigh_in_and_empty_input_keeps_the_columns():
    hourly = _hourly().with_columns(
        timed_requests=pl.Series([100, 0, 10, 10]),
        p95_latency_ms=pl.Series([100.0, None, 900.0, 1100.0]),
    )
    total = latency_rollup(hourly).row(0, named=True)
    assert total["p95_latency_ms"] == pytest.approx((100 * 100 + 900 * 10 + 1100 * 10) / 120)
    assert total["requests"] == 420  # the untimed requests still count as requests
    empty = latency_rollup(_hourly().head(0), ["endpoint"])
    assert empty.is_empty() and {"endpoint", "p95_latency_ms", "error_rate"} <= set(empty.columns)


def test_worst_endpoints_rank_by_error_rate_then_p95():
    ranked = worst_endpoints(_hourly())
    assert ranked["endpoint"].to_list() == ["/v1/purchases", "/v1/feed"]  # 5 % vs 0.75 %
    tie = _hourly().with_columns(server_errors=pl.lit(0))
    assert worst_endpoints(tie)["endpoint"][0] == "/v1/purchases"  # slower p95


def _probes(minutes: int, down: dict[str, range]) -> pl.DataFrame:
    start = dt.datetime(2026, 2, 1, 12, tzinfo=UTC)
    rows = []
    for i in range(minutes):
        for service in ("collector", "dagster", "streamlit"):
            ok = i not in down.get(service, range(0))
            rows.append(
                {
                    "probed_at": start + dt.timedelta(minutes=i),
                    "service": service,
                    "ok": ok,
                    "error": None if ok else "ConnectError",
                }
            )
    return pl.DataFrame(rows)


def test_uptime_per_service_and_for_the_platform_with_coverage_and_budget():
    probes = _probes(1000, {"collector": range(10, 14), "dagster": range(12, 16)})
    start = dt.datetime(2026, 2, 1, 12, tzinfo=UTC)
    result = uptime(probes, start, start + dt.timedelta(minutes=2000))
    by = {r["service"]: r for r in result.services.iter_rows(named=True)}
    assert by["collector"]["uptime"] == pytest.approx(996 / 1000)
    assert by["collector"]["meets_target"] and by["collector"]["last_ok"] is True
    assert by["dagster"]["down_minutes"] == 4
    assert by["streamlit"]["uptime"] == 1.0
    # platform: minutes 10..15 have a service down (6 of 1000)
    assert result.rounds == 1000 and result.ok_rounds == 994
    assert result.platform == pytest.approx(0.994) and result.meets_target is False
    assert result.coverage == pytest.approx(0.5)  # 1000 of 2000 minutes probed
    assert result.down_minutes == 6 and result.budget_minutes == pytest.approx(5.0)
    assert result.services["service"].to_list() == [
        "collector",
        "dagster",
        "streamlit",
    ]  # worst first


def test_uptime_counts_only_the_window_and_says_when_nothing_was_probed():
    probes = _probes(60, {"collector": range(0, 30)})
    start = dt.datetime(2026, 2, 1, 12, 30, tzinfo=UTC)
    later = uptime(probes, start, start + dt.timedelta(minutes=30))
    assert later.platform == 1.0 and later.rounds == 30
    nothing = uptime(probes.head(0), start, start + dt.timedelta(hours=1))
    assert nothing.platform is None and nothing.meets_target is None and nothing.rounds == 0


def test_histogram_quantile_interpolates_like_prometheus():
    buckets = [(0.1, 50.0), (0.2, 90.0), (0.5, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(buckets, 0.5) == pytest.approx(0.1)
    assert histogram_quantile(buckets, 0.7) == pytest.approx(0.1 + 0.1 * (70 - 50) / 40)
    assert histogram_quantile(buckets, 0.95) == pytest.approx(0.2 + 0.3 * (95 - 90) / 10)
    beyond = [(0.1, 10.0), (float("inf"), 20.0)]
    assert histogram_quantile(beyond, 0.99) == 0.1  # in +Inf: the highest finite bound
    assert histogram_quantile([], 0.5) is None
    assert histogram_quantile([(0.1, 0.0), (float("inf"), 0.0)], 0.5) is None


def _collector(received: int, latency: list[float], collector_id: str = "c1") -> str:
    m = CollectorMetrics(collector_id)
    m.received.inc(received)
    m.accepted.inc(received - 3)
    m.quarantine("missing_event", 2)
    m.quarantine("invalid_timestamp", 1)
    m.reject("413")
    m.duplicates.inc(4)
    for seconds in latency:
        m.observe_latency("/v1/batch", seconds)
    m.on_commit("events", 0.2, received - 3)
    m.gauge("pulse_collector_flush_lag_seconds", "lag", lambda: 1.5)
    m.gauge("pulse_collector_wal_pending_events", "pending", lambda: 12.0)
    m.gauge("pulse_collector_flusher_alive", "alive", lambda: 1.0)
    return m.render().decode()


def test_the_collectors_own_metrics_text_parses():
    snap = parse_collector_metrics(_collector(100, [0.002, 0.004, 0.02, 0.2]))
    assert snap.collector_id == "c1"
    assert (snap.received, snap.accepted, snap.duplicates) == (100, 97, 4)
    assert snap.quarantined == {"missing_event": 2, "invalid_timestamp": 1}
    assert snap.quarantined_total == 3 and snap.rejected == {"413": 1}
    assert snap.committed_rows == {"events": 97}
    assert snap.requests == {"/v1/batch": 4} and snap.latency_sum["/v1/batch"] == pytest.approx(
        0.226
    )
    assert (snap.flush_lag_seconds, snap.wal_pending_events, snap.flusher_alive) == (1.5, 12, True)
    # 2 of 4 observations are at or below 5 ms: the median is that bucket's bound
    assert snap.route_latency("/v1/batch", 0.5) == pytest.approx(0.005)
    assert snap.route_latency("/nowhere", 0.5) is None


def test_rates_between_scrapes_and_none_after_a_restart_or_for_another_collector():
    before = parse_collector_metrics(_collector(100, []))
    after = parse_collector_metrics(_collector(400, []))
    speed = rates(before, after, 10.0)
    assert speed is not None and speed.received_per_s == 30 and speed.accepted_per_s == 30
    assert speed.committed_per_s == 30 and speed.quarantined_per_s == 0
    assert rates(after, before, 10.0) is None  # counters went down: restarted
    assert rates(before, parse_collector_metrics(_collector(400, [], "c2")), 10.0) is None
    assert rates(before, after, 0.0) is None


def test_run_summary_puts_jobs_with_failures_first():
    t0 = dt.datetime(2026, 2, 1, tzinfo=UTC)
    runs = pl.DataFrame(
        [
            ("a", "nightly", "SUCCESS", t0, 100.0),
            ("b", "nightly", "SUCCESS", t0 + dt.timedelta(hours=1), 300.0),
            ("c", "hourly", "SUCCESS", t0, 10.0),
            ("d", "hourly", "FAILURE", t0 + dt.timedelta(hours=2), 20.0),
            ("e", "hourly", "CANCELED", t0 + dt.timedelta(hours=3), None),
        ],
        schema=["run_id", "job", "status", "created_at", "duration_s"],
        orient="row",
    ).with_columns(started_at=None, ended_at=None, trigger=pl.lit("schedule"))
    summary = run_summary(runs.select(list(RUNS_SCHEMA)).cast(RUNS_SCHEMA))  # type: ignore[arg-type]
    first, second = summary.row(0, named=True), summary.row(1, named=True)
    assert first["job"] == "hourly" and first["failed"] == 2 and first["runs"] == 3
    assert first["failure_rate"] == pytest.approx(2 / 3) and first["last_status"] == "CANCELED"
    assert first["p50_s"] == pytest.approx(15.0)  # the cancelled run has no duration
    assert second["job"] == "nightly" and second["max_s"] == 300.0 and second["failed"] == 0
    assert run_summary(runs.head(0).select(list(RUNS_SCHEMA)).cast(RUNS_SCHEMA)).is_empty()  # type: ignore[arg-type]
