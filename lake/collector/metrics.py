"""Prometheus metrics of one collector process (its own registry, so apps never share counters).

Counters are updated on the request path through pre-bound children (no label lookup per
event); gauges read live state (WAL, flusher) only when /metrics is scraped.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from lake.privacy import MASK_KINDS, MaskCounts

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
COMMIT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class CollectorMetrics:
    def __init__(self, collector_id: str) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.info = Gauge(
            "pulse_collector_info", "Collector identity", ["collector_id"], registry=r
        )
        self.info.labels(collector_id).set(1)
        self.received = Counter(
            "pulse_collector_events_received", "Events received in accepted requests", registry=r
        )
        self.accepted = Counter(
            "pulse_collector_events_accepted",
            "Events written to the WAL for bronze.events",
            registry=r,
        )
        self.quarantined = Counter(
            "pulse_collector_events_quarantined",
            "Events sent to bronze.quarantine, by reason",
            ["reason"],
            registry=r,
        )
        self.rejected = Counter(
            "pulse_collector_requests_rejected",
            "Requests answered with an error, by code",
            ["code"],
            registry=r,
        )
        self.duplicates = Counter(
            "pulse_collector_duplicates_dropped",
            "Events dropped as repeats of a recent messageId",
            registry=r,
        )
        self.consent_dropped = Counter(
            "pulse_collector_events_consent_dropped",
            "Events (and quarantine rows) not stored: their user withdrew analytics consent",
            registry=r,
        )
        self.consent_changes = Counter(
            "pulse_collector_consent_changes",
            "Consent messages recorded in the consent ledger",
            registry=r,
        )
        self.masked = Counter(
            "pulse_collector_pii_masked", "PII values masked, by kind", ["kind"], registry=r
        )
        self._masked = {k: self.masked.labels(k) for k in MASK_KINDS}
        self.latency = Histogram(
            "pulse_collector_request_duration_seconds",
            "Request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.commit = Histogram(
            "pulse_collector_delta_commit_duration_seconds",
            "Delta commit duration by table",
            ["table"],
            buckets=COMMIT_BUCKETS,
            registry=r,
        )
        self.committed_rows = Counter(
            "pulse_collector_delta_rows_committed",
            "Rows committed to Delta by table",
            ["table"],
            registry=r,
        )
        self._latency: dict[str, object] = {}
        self._rejected: dict[str, Counter] = {}
        self._quarantined: dict[str, Counter] = {}

    def gauge(self, name: str, doc: str, fn: Callable[[], float]) -> None:
        Gauge(name, doc, registry=self.registry).set_function(fn)

    def observe_latency(self, route: str, seconds: float) -> None:
        child = self._latency.get(route)
        if child is None:
            child = self._latency[route] = self.latency.labels(route)
        child.observe(seconds)  # type: ignore[attr-defined]

    def reject(self, code: str) -> None:
        child = self._rejected.get(code)
        if child is None:
            child = self._rejected[code] = self.rejected.labels(code)
        child.inc()

    def quarantine(self, reason: str, n: int = 1) -> None:
        child = self._quarantined.get(reason)
        if child is None:
            child = self._quarantined[reason] = self.quarantined.labels(reason)
        child.inc(n)

    def add_masked(self, counts: MaskCounts) -> None:
        if counts.total:
            for kind, child in self._masked.items():
                n = getattr(counts, kind)
                if n:
                    child.inc(n)

    def on_commit(self, table: str, seconds: float, rows: int) -> None:
        self.commit.labels(table).observe(seconds)
        self.committed_rows.labels(table).inc(rows)

    def render(self) -> bytes:
        return generate_latest(self.registry)
