"""What the System page computes from the platform's records: pure functions over DataFrames
(and over the collector's Prometheus text), tested on hand-built inputs.

- :func:`latency_rollup` — API latency and errors over any span, from the hourly mart
  ``sys_api_latency_hourly``. Counts and rates are exact (sums of the hourly counts). Percentiles
  cannot be re-aggregated from hourly percentiles; over a longer span the rollup reports the
  request-weighted mean of the hourly percentiles (a typical hour's p95, weighted by traffic),
  beside the exact mean and the exact maximum. An hour's own row is exact.
- :func:`uptime` — the 99.5 % uptime target against the health probes of the
  ``platform_telemetry`` sensor (see UPTIME_DEFINITION).
- :func:`parse_collector_metrics`, :func:`histogram_quantile`, :func:`rates` — the collector's
  live ``/metrics`` (throughput between two scrapes, flush lag, WAL backlog, latency by route).
- :func:`run_summary` — Dagster run durations and failures.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

UPTIME_TARGET = 0.995
PROBE_INTERVAL_SECONDS = 60.0
UPTIME_DEFINITION = (
    "Uptime is the share of health probes that succeeded. Once a minute the platform_telemetry "
    "sensor (it runs with the Dagster daemon) probes each service — the collector's /ready, the "
    "Dagster webserver's /server_info, Streamlit's /_stcore/health — and a probe succeeds when "
    "the service answers HTTP 200 within 2 s; each probe stands for one minute. A service's "
    "uptime is its successful probes over its probes in the window; the platform's is the share "
    "of probe rounds (minutes) in which every service was up. Minutes without a probe (the daemon "
    "was not running) count neither way: coverage shows how much of the window was observed. "
    "Target 99.5 %: at most 7.2 minutes down a day, 3.6 hours in 30 days."
)

LATENCY_COLUMNS = ("p50_latency_ms", "p95_latency_ms", "p99_latency_ms")


# ---- API latency ---------------------------------------------------------------------------
def latency_rollup(hourly: pl.DataFrame, by: Sequence[str] = ()) -> pl.DataFrame:
    """Rows of ``sys_api_latency_hourly`` rolled up by ``by`` (e.g. ``["endpoint"]``,
    ``["request_date"]``, or nothing for one total row): requests, timed requests, server and
    client errors and their rates (exact), p50/p95/p99 (request-weighted mean of the hourly
    percentiles), mean latency (exact) and the slowest request."""
    keys = list(by)
    weight = pl.col("timed_requests").cast(pl.Float64)

    def weighted(column: str) -> pl.Expr:
        valid = pl.col(column).is_not_null() & (weight > 0)
        total = weight.filter(valid).sum()
        return (
            pl.when(total > 0)
            .then((pl.col(column) * weight).filter(valid).sum() / total)
            .otherwise(None)
            .alias(column)
        )

    valid_avg = pl.col("avg_latency_ms").is_not_null() & (weight > 0)
    aggs = [
        pl.col("requests").sum().cast(pl.Int64).alias("requests"),
        pl.col("timed_requests").sum().cast(pl.Int64).alias("timed_requests"),
        pl.col("server_errors").sum().cast(pl.Int64).alias("server_errors"),
        pl.col("client_errors").sum().cast(pl.Int64).alias("client_errors"),
        *(weighted(c) for c in LATENCY_COLUMNS),
        (
            (pl.col("avg_latency_ms") * weight).filter(valid_avg).sum()
            / weight.filter(valid_avg).sum()
        ).alias("avg_latency_ms"),
        pl.col("max_latency_ms").max().alias("max_latency_ms"),
    ]
    if hourly.is_empty():
        schema = {k: hourly.schema[k] for k in keys} | {
            "requests": pl.Int64,
            "timed_requests": pl.Int64,
            "server_errors": pl.Int64,
            "client_errors": pl.Int64,
            **{c: pl.Float64 for c in (*LATENCY_COLUMNS, "avg_latency_ms", "max_latency_ms")},
            "error_rate": pl.Float64,
            "client_error_rate": pl.Float64,
        }
        return pl.DataFrame(schema=schema)
    out = hourly.group_by(keys).agg(aggs) if keys else hourly.select(aggs)
    rates = out.with_columns(
        error_rate=pl.when(pl.col("requests") > 0)
        .then(pl.col("server_errors") / pl.col("requests"))
        .otherwise(None),
        client_error_rate=pl.when(pl.col("requests") > 0)
        .then(pl.col("client_errors") / pl.col("requests"))
        .otherwise(None),
    )
    return rates.sort(keys) if keys else rates


def worst_endpoints(hourly: pl.DataFrame, limit: int | None = None) -> pl.DataFrame:
    """Per endpoint, worst first: by error rate, then by p95 latency (ties: more traffic)."""
    out = latency_rollup(hourly, ["endpoint"]).sort(
        ["error_rate", "p95_latency_ms", "requests"],
        descending=[True, True, True],
        nulls_last=True,
    )
    return out.head(limit) if limit else out


# ---- uptime ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Uptime:
    """Uptime over a window against the target (see UPTIME_DEFINITION)."""

    start: dt.datetime
    end: dt.datetime
    target: float
    services: pl.DataFrame  # service, probes, ok_probes, uptime, down_minutes, coverage, meets_target, last_probe, last_ok, last_error
    rounds: int  # probe rounds (minutes observed)
    ok_rounds: int  # rounds in which every service was up
    expected_rounds: float  # minutes in the window (at one probe a minute)

    @property
    def platform(self) -> float | None:
        return self.ok_rounds / self.rounds if self.rounds else None

    @property
    def coverage(self) -> float | None:
        return min(self.rounds / self.expected_rounds, 1.0) if self.expected_rounds else None

    @property
    def down_minutes(self) -> float:
        return (self.rounds - self.ok_rounds) * PROBE_INTERVAL_SECONDS / 60

    @property
    def budget_minutes(self) -> float:
        """Minutes of downtime the target allows over the observed minutes."""
        return (1 - self.target) * self.rounds * PROBE_INTERVAL_SECONDS / 60

    @property
    def meets_target(self) -> bool | None:
        value = self.platform
        return None if value is None else value >= self.target


def uptime(
    probes: pl.DataFrame,
    start: dt.datetime,
    end: dt.datetime,
    target: float = UPTIME_TARGET,
    interval_seconds: float = PROBE_INTERVAL_SECONDS,
) -> Uptime:
    """Uptime per service and for the platform from ``system/service_probes`` rows with
    ``start <= probed_at < end``."""
    window = probes.filter((pl.col("probed_at") >= start) & (pl.col("probed_at") < end))
    expected = max((end - start).total_seconds(), 0.0) / interval_seconds
    per_service = (
        window.sort("probed_at")
        .group_by("service")
        .agg(
            probes=pl.len().cast(pl.Int64),
            ok_probes=pl.col("ok").sum().cast(pl.Int64),
            last_probe=pl.col("probed_at").last(),
            last_ok=pl.col("ok").last(),
            last_error=pl.col("error").last(),
        )
        .with_columns(
            uptime=pl.col("ok_probes") / pl.col("probes"),
            down_minutes=(pl.col("probes") - pl.col("ok_probes")) * interval_seconds / 60,
            coverage=pl.min_horizontal(pl.col("probes") / pl.lit(expected), pl.lit(1.0))
            if expected
            else pl.lit(None, pl.Float64),
        )
        .with_columns(meets_target=pl.col("uptime") >= target)
        .select(
            "service",
            "probes",
            "ok_probes",
            "uptime",
            "down_minutes",
            "coverage",
            "meets_target",
            "last_probe",
            "last_ok",
            "last_error",
        )
        .sort("uptime", "service")
    )
    rounds = window.group_by("probed_at").agg(pl.col("ok").all().alias("up"))
    return Uptime(
        start=start,
        end=end,
        target=target,
        services=per_service,
        rounds=rounds.height,
        ok_rounds=int(rounds["up"].sum()) if rounds.height else 0,
        expected_rounds=expected,
    )


def daily_uptime(probes: pl.DataFrame) -> pl.DataFrame:
    """Per UTC day and service: uptime (share of ok probes) and probes, as the system mart
    computes it (``uptime_percent`` in ``system/platform_metrics``, here a share)."""
    if probes.is_empty():
        return pl.DataFrame(
            schema={"day": pl.Date, "service": pl.String, "uptime": pl.Float64, "probes": pl.Int64}
        )
    return (
        probes.group_by(day=pl.col("probed_at").dt.date(), service=pl.col("service"))
        .agg(uptime=pl.col("ok").mean(), probes=pl.len().cast(pl.Int64))
        .sort("day", "service")
    )


# ---- the collector's /metrics ----------------------------------------------------------------
@dataclass(frozen=True)
class CollectorSnapshot:
    """One scrape of a collector's ``/metrics``."""

    collector_id: str | None
    received: float
    accepted: float
    duplicates: float
    consent_dropped: float
    quarantined: Mapping[str, float] = field(default_factory=dict)  # reason -> messages
    rejected: Mapping[str, float] = field(default_factory=dict)  # HTTP code -> requests
    committed_rows: Mapping[str, float] = field(default_factory=dict)  # Delta table -> rows
    requests: Mapping[str, float] = field(default_factory=dict)  # route -> requests
    latency_sum: Mapping[str, float] = field(default_factory=dict)  # route -> seconds
    latency_buckets: Mapping[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    flush_lag_seconds: float | None = None
    wal_pending_events: float | None = None
    wal_bytes: float | None = None
    flusher_alive: bool | None = None

    @property
    def quarantined_total(self) -> float:
        return sum(self.quarantined.values())

    def route_latency(self, route: str, q: float) -> float | None:
        """The ``q`` quantile of a route's request latency, seconds (from the histogram)."""
        return histogram_quantile(self.latency_buckets.get(route, ()), q)


def parse_collector_metrics(text: str) -> CollectorSnapshot:
    """The Prometheus text of a collector's ``/metrics`` (:mod:`lake.collector.metrics`)."""
    from prometheus_client.parser import text_string_to_metric_families

    scalars: dict[str, float] = {}
    by_label: dict[str, dict[str, float]] = {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    counts: dict[str, float] = {}
    sums: dict[str, float] = {}
    collector_id = None
    labels_of = {
        "pulse_collector_events_quarantined_total": "reason",
        "pulse_collector_requests_rejected_total": "code",
        "pulse_collector_delta_rows_committed_total": "table",
    }
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "pulse_collector_info":
                collector_id = labels.get("collector_id")
            elif name in labels_of:
                by_label.setdefault(name, {})[labels.get(labels_of[name], "")] = value
            elif name.startswith("pulse_collector_request_duration_seconds"):
                route = labels.get("route", "")
                if name.endswith("_bucket"):
                    buckets.setdefault(route, []).append((_bound(labels.get("le")), value))
                elif name.endswith("_count"):
                    counts[route] = value
                elif name.endswith("_sum"):
                    sums[route] = value
            elif not labels:
                scalars[name] = value
    alive = scalars.get("pulse_collector_flusher_alive")
    return CollectorSnapshot(
        collector_id=collector_id,
        received=scalars.get("pulse_collector_events_received_total", 0.0),
        accepted=scalars.get("pulse_collector_events_accepted_total", 0.0),
        duplicates=scalars.get("pulse_collector_duplicates_dropped_total", 0.0),
        consent_dropped=scalars.get("pulse_collector_events_consent_dropped_total", 0.0),
        quarantined=by_label.get("pulse_collector_events_quarantined_total", {}),
        rejected=by_label.get("pulse_collector_requests_rejected_total", {}),
        committed_rows=by_label.get("pulse_collector_delta_rows_committed_total", {}),
        requests=counts,
        latency_sum=sums,
        latency_buckets={r: tuple(sorted(b)) for r, b in buckets.items()},
        flush_lag_seconds=scalars.get("pulse_collector_flush_lag_seconds"),
        wal_pending_events=scalars.get("pulse_collector_wal_pending_events"),
        wal_bytes=scalars.get("pulse_collector_wal_bytes"),
        flusher_alive=None if alive is None else alive >= 1,
    )


def _bound(text: str | None) -> float:
    return math.inf if text in (None, "+Inf", "inf") else float(text)  # type: ignore[arg-type]


def histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """Prometheus' ``histogram_quantile``: cumulative ``(upper bound, count)`` buckets, linear
    interpolation inside the bucket holding the rank; the highest finite bound when the rank
    falls in the ``+Inf`` bucket. None without observations."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


@dataclass(frozen=True)
class CollectorRates:
    """Per-second rates between two scrapes of the same collector process."""

    seconds: float
    received_per_s: float
    accepted_per_s: float
    quarantined_per_s: float
    committed_per_s: float


def rates(
    before: CollectorSnapshot, after: CollectorSnapshot, seconds: float
) -> CollectorRates | None:
    """Throughput between two scrapes; None when they cannot be compared (no time between
    them, another process, or counters that went down: the collector restarted)."""
    if seconds <= 0 or before.collector_id != after.collector_id:
        return None
    if after.received < before.received or after.accepted < before.accepted:
        return None
    committed_before = sum(before.committed_rows.values())
    committed_after = sum(after.committed_rows.values())
    return CollectorRates(
        seconds=seconds,
        received_per_s=(after.received - before.received) / seconds,
        accepted_per_s=(after.accepted - before.accepted) / seconds,
        quarantined_per_s=max(after.quarantined_total - before.quarantined_total, 0) / seconds,
        committed_per_s=max(committed_after - committed_before, 0) / seconds,
    )


# ---- Dagster runs ----------------------------------------------------------------------------
RUNS_SCHEMA = {
    "run_id": pl.String,
    "job": pl.String,
    "status": pl.String,
    "created_at": pl.Datetime("us", "UTC"),
    "started_at": pl.Datetime("us", "UTC"),
    "ended_at": pl.Datetime("us", "UTC"),
    "duration_s": pl.Float64,
    "trigger": pl.String,
}
FAILED = ("FAILURE", "CANCELED")
SUMMARY_COLUMNS = (
    "job",
    "runs",
    "failed",
    "failure_rate",
    "p50_s",
    "p95_s",
    "max_s",
    "last_status",
    "last_run",
)


def run_summary(runs: pl.DataFrame) -> pl.DataFrame:
    """Per job: runs, failed runs (failure or cancelled), failure rate, p50/p95 and longest
    duration of finished runs, the last run's status; the jobs with failures first."""
    if runs.is_empty():
        return pl.DataFrame(
            schema={
                "job": pl.String,
                "runs": pl.Int64,
                "failed": pl.Int64,
                "failure_rate": pl.Float64,
                "p50_s": pl.Float64,
                "p95_s": pl.Float64,
                "max_s": pl.Float64,
                "last_status": pl.String,
                "last_run": pl.Datetime("us", "UTC"),
            }
        )
    return (
        runs.sort("created_at")
        .group_by("job")
        .agg(
            runs=pl.len().cast(pl.Int64),
            failed=pl.col("status").is_in(FAILED).sum().cast(pl.Int64),
            p50_s=pl.col("duration_s").quantile(0.5, "linear"),
            p95_s=pl.col("duration_s").quantile(0.95, "linear"),
            max_s=pl.col("duration_s").max(),
            last_status=pl.col("status").last(),
            last_run=pl.col("created_at").last(),
        )
        .with_columns(failure_rate=pl.col("failed") / pl.col("runs"))
        .select(*SUMMARY_COLUMNS)
        .sort(["failed", "runs", "job"], descending=[True, True, False])
    )
