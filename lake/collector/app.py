"""The Segment-compatible HTTP collector (Starlette + orjson).

Request path: backpressure check → read body (size-capped, gzip with a decompression cap) →
parse → authenticate (write key; cache misses go to a thread) → rate limit → mask PII → validate
(envelope + JSON Schema; invalid → quarantine record) → consent (record changes; drop events of
users who withdrew analytics consent) → drop recent repeats → WAL append + fsync
→ live fan-out → 200. Only after the WAL returned is the request acked; the
:class:`~lake.collector.flusher.Flusher` moves WAL records to Delta in the background and flushes
everything on shutdown.

Write key: HTTP Basic username (``key:`` or ``key``), ``X-Write-Key`` header, or ``writeKey`` in
the body. Errors are JSON ``{"code", "message"}``; 429 and 503 carry ``Retry-After``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import math
import os
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from core.metadata import engine_for
from core.pii_policy import load_policy
from core.settings import Settings
from lake.collector.flusher import Flusher
from lake.collector.limits import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES
from lake.collector.logs import Throttle
from lake.collector.metrics import CONTENT_TYPE, CollectorMetrics
from lake.collector.openapi import SHORT
from lake.collector.openapi import build as build_openapi
from lake.consent import CONSENT, RedisConsent, audit_changes, message_keys, rebuild_gate
from lake.dedupe import RecentIds
from lake.live import LiveHub
from lake.live.endpoints import build_routes as live_routes
from lake.pipeline import EVENT, QUARANTINE, mask_batch_envelope, prepare, schema_check
from lake.privacy import MaskCounts, key_bytes
from lake.ratelimit import build_rate_limiter
from lake.schemas import SchemaRegistry
from lake.sources import MISS, Source, authenticate, cached_source
from lake.wal import WALClosedError, WriteAheadLog
from lake.writer import DeltaSink

log = logging.getLogger("lake.collector")

SINGLE_TYPES = ("track", "identify", "page", "screen", "group", "alias")
DEDUPE_CAPACITY = 1_000_000
DEDUPE_TTL_SECONDS = 86_400.0


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class RequestError(Exception):
    """A request the collector refuses: becomes ``{code, message}`` with ``status``."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def error(status: int, code: str, message: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


class Collector:
    """Everything the request handlers share; opened and closed by the app lifespan."""

    def __init__(
        self,
        settings: Settings,
        *,
        trusted_proxy_hops: int | None = None,
        hub: Any = None,
        consent_key_prefix: str | None = None,
    ) -> None:
        self.settings = settings
        self.key = key_bytes(settings.pii_hmac_key)
        self.policy = load_policy(settings.pii_policy_path)
        self.metrics = CollectorMetrics(settings.collector_id)
        self.engine = engine_for(settings)
        self.sink = DeltaSink(settings)
        committed = Flusher.committed_offsets(settings, self.sink)
        done = [v for v in committed.values() if v is not None]
        self.wal = WriteAheadLog(
            settings.wal_dir / settings.collector_id,
            min_next_offset=max(done) + 1 if done else 0,
        )
        self.flusher = Flusher(settings, self.sink, self.wal)
        self.flusher.on_commit = self.metrics.on_commit
        self.flusher.on_rows = self._flushed
        # Consent survives restarts: the ledger, plus consent records still waiting in the WAL.
        self.consent = rebuild_gate(
            settings,
            (row for _, kind, row in self.wal.read_from(self.flusher.position) if kind == CONSENT),
        )
        self.shared_consent: RedisConsent | None = None
        if settings.redis_url:
            self.shared_consent = RedisConsent.from_url(
                settings.redis_url,
                self.consent,
                *([consent_key_prefix] if consent_key_prefix else []),
            )
        self.wal.on_durable = self.flusher.notify
        self.trusted_proxy_hops = (
            settings.trusted_proxy_hops if trusted_proxy_hops is None else trusted_proxy_hops
        )
        self.registry = SchemaRegistry.load()
        self.limiter = build_rate_limiter(settings)
        self.seen = RecentIds(capacity=DEDUPE_CAPACITY, ttl_seconds=DEDUPE_TTL_SECONDS)
        self.hub = hub
        self._checks: dict[str, Any] = {}
        self.retry_after_overloaded = max(1.0, settings.flush_interval_seconds)
        self.throttle = Throttle()
        m = self.metrics
        m.gauge("pulse_collector_wal_pending_events", "WAL records not yet in Delta",
                lambda: self.flusher.pending)  # fmt: skip
        m.gauge("pulse_collector_flush_lag_seconds", "Age of the oldest unflushed WAL record",
                lambda: self.flusher.lag_seconds)  # fmt: skip
        m.gauge("pulse_collector_wal_bytes", "Bytes in WAL segment files", self._wal_bytes)
        m.gauge("pulse_collector_wal_next_offset", "Next WAL offset (= sequence)",
                lambda: self.wal.next_offset)  # fmt: skip
        m.gauge("pulse_collector_flusher_alive", "1 if the flusher thread runs",
                lambda: 1.0 if self.flusher.alive else 0.0)  # fmt: skip

    def _wal_bytes(self) -> float:
        total = 0
        for path in self.wal.directory.glob("*.wal"):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return float(total)

    def _flushed(self, table: str, rows: list[dict[str, Any]]) -> None:
        """After a consent ledger commit: one audit entry per change (runs on the flusher)."""
        if table == CONSENT:
            audit_changes(self.settings, rows, actor=f"collector:{self.settings.collector_id}")

    def start(self) -> None:
        self.flusher.start()
        self.flusher.wake()  # replay whatever a previous run left in the WAL right away

    def close(self) -> None:
        try:
            self.flusher.stop(final_flush=True)
        finally:
            self.wal.close()

    # ---- request helpers -----------------------------------------------------------------------
    def event_check(self, source: Source) -> Any:
        """The schema check for a source (cached per unknown-event policy)."""
        policy = source.settings.get("unknown_event_policy") or self.settings.unknown_event_policy
        check = self._checks.get(policy)
        if check is None:
            check = self._checks[policy] = schema_check(self.registry, policy)
        return check

    def overloaded(self) -> str | None:
        flusher = self.flusher
        if flusher.pending > self.settings.max_wal_pending_events:
            return f"{flusher.pending} events wait for Delta (bound {self.settings.max_wal_pending_events})"
        lag = flusher.lag_seconds
        if lag > self.settings.max_flush_lag_seconds:
            return f"flush lag {lag:.1f}s over its bound of {self.settings.max_flush_lag_seconds}s"
        return None

    async def authenticate(self, write_key: str | None) -> Source | None:
        hit = cached_source(self.engine, write_key)
        if hit is not MISS:
            return hit  # type: ignore[return-value]
        return await run_in_threadpool(authenticate, self.engine, write_key)

    def client_ip(self, request: Request) -> str | None:
        if self.trusted_proxy_hops > 0:
            forwarded = request.headers.get("x-forwarded-for")
            if forwarded:
                hops = [h.strip() for h in forwarded.split(",") if h.strip()]
                if hops:
                    return hops[max(0, len(hops) - self.trusted_proxy_hops)]
        return request.client.host if request.client else None

    def note(self, level: int, event: str, key: str | None = None, **fields: Any) -> None:
        """A structured log line (throttled per ``key`` when given)."""
        if key is not None:
            suppressed = self.throttle.allow(key)
            if suppressed is None:
                return
            if suppressed:
                fields["suppressed"] = suppressed
        fields.setdefault("collector_id", self.settings.collector_id)
        log.log(level, event, extra={"fields": fields})


def _write_key(request: Request, body: Any) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user = decoded.split(":", 1)[0]
        if user:
            return user
    header = request.headers.get("x-write-key")
    if header:
        return header
    if isinstance(body, dict):
        key = body.get("writeKey")
        if isinstance(key, str) and key:
            return key
    return None


async def read_body(request: Request, limit: int, too_large: str) -> bytes:
    """The request body, decompressed, at most ``limit`` bytes (else :class:`RequestError`)."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise RequestError(
            400, "unsupported_encoding", f"Content-Encoding {encoding[:40]!r}: use gzip or none"
        )
    over = RequestError(400, too_large, f"request body is over the limit of {limit} bytes")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise over
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise over
        chunks.append(chunk)
    raw = b"".join(chunks)
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, limit + 1)  # a gzip bomb stops at the cap
        except zlib.error as exc:
            raise RequestError(400, "invalid_gzip", f"body is not valid gzip: {exc}") from None
        if len(raw) > limit or inflater.unconsumed_tail:
            raise over
        if not inflater.eof:
            raise RequestError(400, "invalid_gzip", "gzip body is truncated")
    return raw


UNAUTHORIZED = (
    "missing or unknown write key: send it as the HTTP Basic username, "
    "the X-Write-Key header or writeKey in the body"
)


async def _ingest(request: Request, collector: Collector, single_type: str | None) -> Response:
    metrics = collector.metrics
    if reason := collector.overloaded():
        collector.note(logging.WARNING, "overloaded", key="overloaded", reason=reason)
        raise RequestError(503, "overloaded", reason, collector.retry_after_overloaded)
    if single_type is None:
        raw = await read_body(request, MAX_BATCH_BYTES, "batch_too_large")
    else:
        raw = await read_body(request, MAX_EVENT_BYTES, "event_too_large")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError(400, "invalid_body", "request body must be a JSON object")
    source = await collector.authenticate(_write_key(request, body))
    if source is None:
        raise RequestError(401, "unauthorized", UNAUTHORIZED)
    if single_type is None:
        messages = body.get("batch")
        if not isinstance(messages, list):
            raise RequestError(400, "invalid_body", "batch must be an array of messages")
        if len(messages) > MAX_BATCH_EVENTS:
            raise RequestError(
                400,
                "too_many_events",
                f"a batch holds at most {MAX_BATCH_EVENTS} events, got {len(messages)}",
            )
    else:
        messages = [body]
    if messages:
        wait = await collector.limiter.acquire(source.source_id, len(messages))
        if wait > 0:
            collector.note(logging.INFO, "rate_limited", key=f"rl:{source.source_id}",
                           source_id=source.source_id)  # fmt: skip
            raise RequestError(
                429, "rate_limited", "too many events for this write key; retry later", wait
            )

    shared = collector.shared_consent
    if shared is not None:  # what other replicas know about these identities
        try:
            await shared.refresh(message_keys(messages))
        except (
            Exception
        ) as exc:  # Redis down: go on with this replica's state (ledger + own changes)
            collector.note(logging.WARNING, "consent_redis_unavailable", key="consent_redis",
                           error=type(exc).__name__)  # fmt: skip

    masked = MaskCounts()
    if single_type is None:
        batch_context = mask_batch_envelope(
            body.get("context"), collector.key, masked, collector.policy
        )
        integrations = body.get("integrations")
        batch_integrations = integrations if isinstance(integrations, dict) else None
        batch_sent_at = body.get("sentAt")
    else:
        if "writeKey" in body:
            messages = [{k: v for k, v in body.items() if k != "writeKey"}]
        batch_context = batch_integrations = batch_sent_at = None

    received_at_us = time.time_ns() // 1000
    prepared = prepare(
        messages,
        key=collector.key,
        source_id=source.source_id,
        received_at_us=received_at_us,
        batch_context=batch_context,
        batch_integrations=batch_integrations,
        batch_sent_at=batch_sent_at,
        client_ip=collector.client_ip(request),
        default_type=single_type,
        event_check=collector.event_check(source),
        max_event_bytes=MAX_EVENT_BYTES if len(raw) > MAX_EVENT_BYTES else None,
        policy=collector.policy,
        consent=collector.consent,
    )
    if shared is not None and prepared.consent_changes:
        try:
            await shared.publish(prepared.consent_changes)
        except Exception as exc:
            collector.note(logging.WARNING, "consent_redis_unavailable", key="consent_redis",
                           error=type(exc).__name__)  # fmt: skip
    prepared.masked.add(masked)
    records = prepared.records
    duplicates = 0
    seen = collector.seen
    if prepared.accepted:
        now = time.time()
        kept = []
        for record in records:
            if record[0] == EVENT and not seen.add_if_new(record[1]["message_id"], now):
                duplicates += 1
                continue
            if record[0] == CONSENT and not seen.add_if_new(
                "consent:" + record[1]["message_id"], now
            ):
                continue  # a retried consent message: its change is in the ledger already
            kept.append(record)
        records = kept
    if records:
        try:
            await collector.wal.append_async(records)
        except (OSError, WALClosedError) as exc:
            _forget(seen, [row["message_id"] for kind, row in records if kind == EVENT])
            collector.note(logging.ERROR, "wal_append_failed", key="wal", error=str(exc))
            raise RequestError(
                503, "wal_unavailable", "could not persist events; retry later",
                collector.retry_after_overloaded,
            ) from None  # fmt: skip
        if collector.hub is not None:
            rows = [row for kind, row in records if kind == EVENT]
            if rows:
                try:
                    collector.hub.publish(rows)
                except Exception:  # the live stream must never fail an acked request
                    log.exception("live publish failed")
    accepted = prepared.accepted - duplicates
    metrics.received.inc(len(messages))
    if accepted:
        metrics.accepted.inc(accepted)
    if duplicates:
        metrics.duplicates.inc(duplicates)
    if prepared.consent_dropped:
        metrics.consent_dropped.inc(prepared.consent_dropped)
    if prepared.consent_changes:
        metrics.consent_changes.inc(len(prepared.consent_changes))
    if prepared.quarantined:
        for kind, row in records:
            if kind == QUARANTINE:
                metrics.quarantine(row["reason"])
    metrics.add_masked(prepared.masked)
    content: dict[str, Any] = {
        "success": True,
        "accepted": accepted,
        "quarantined": prepared.quarantined,
    }
    if duplicates:
        content["duplicates"] = duplicates
    if prepared.consent_dropped:
        content["consent_dropped"] = prepared.consent_dropped
    if prepared.errors:
        content["errors"] = prepared.errors
    return JSONResponse(content)


def _forget(seen: RecentIds, message_ids: list[str]) -> None:
    """Un-see ids that were not stored, so the client's retry is not dropped as a repeat."""
    for mid in message_ids:
        seen.discard(mid)


Handler = Callable[[Request, Collector], Awaitable[Response]]


def _endpoint(route: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wraps a handler: request latency metric, RequestError → JSON error, no 5xx for bad input."""

    async def endpoint(request: Request) -> Response:
        collector: Collector = request.app.state.collector
        started = time.perf_counter()
        try:
            response = await handler(request, collector)
        except RequestError as exc:
            collector.metrics.reject(exc.code)
            if exc.status in (400, 401):
                collector.note(logging.INFO, "request_rejected", key=f"rej:{exc.code}",
                               code=exc.code, status=exc.status, route=route)  # fmt: skip
            response = error(exc.status, exc.code, exc.message, exc.retry_after)
        collector.metrics.observe_latency(route, time.perf_counter() - started)
        return response

    endpoint.__name__ = f"endpoint_{route.strip('/').replace('/', '_')}"
    return endpoint


def _ingest_handler(single_type: str | None) -> Handler:
    async def handler(request: Request, collector: Collector) -> Response:
        return await _ingest(request, collector, single_type)

    return handler


async def _noop(request: Request, collector: Collector) -> Response:
    await request.body()
    return JSONResponse({"success": True, "accepted": 0, "quarantined": 0})


async def _health(request: Request, collector: Collector) -> Response:
    return JSONResponse({"status": "ok", "collector_id": collector.settings.collector_id})


def readiness(collector: Collector) -> list[str]:
    """Why the collector is not ready (empty: ready)."""
    problems: list[str] = []
    flusher, wal = collector.flusher, collector.wal
    if not flusher.alive:
        problems.append("flusher thread is not running")
    if flusher.last_error:
        problems.append(f"last flush failed: {flusher.last_error[:300]}")
    if getattr(wal, "_closed", False) or not os.access(wal.directory, os.W_OK):
        problems.append("WAL is not writable")
    if reason := collector.overloaded():
        problems.append(reason)
    return problems


async def _ready(request: Request, collector: Collector) -> Response:
    problems = readiness(collector)
    flusher = collector.flusher
    body = {
        "status": "not_ready" if problems else "ready",
        "collector_id": collector.settings.collector_id,
        "problems": problems,
        "wal_pending": flusher.pending,
        "flush_lag_seconds": round(flusher.lag_seconds, 3),
    }
    return JSONResponse(body, status_code=503 if problems else 200)


async def _metrics(request: Request, collector: Collector) -> Response:
    return Response(collector.metrics.render(), media_type=CONTENT_TYPE)


def create_app(
    settings: Settings,
    *,
    enable_noop: bool = False,
    trusted_proxy_hops: int | None = None,
    consent_key_prefix: str | None = None,
) -> Starlette:
    """The collector ASGI app; the lifespan opens the WAL and runs the flusher.

    ``enable_noop`` adds ``POST /v1/noop`` (reads the body, does nothing) for benchmarks only.
    """
    openapi = orjson.dumps(build_openapi(include_noop=enable_noop))
    hub = LiveHub(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        collector = Collector(
            settings,
            trusted_proxy_hops=trusted_proxy_hops,
            hub=hub,
            consent_key_prefix=consent_key_prefix,
        )
        app.state.collector = collector
        collector.start()
        if collector.shared_consent is not None:
            await collector.shared_consent.seed()
        if collector.hub is not None:
            await collector.hub.start()
        collector.note(logging.INFO, "collector_started", wal=str(collector.wal.directory),
                       wal_pending=collector.flusher.pending)  # fmt: skip
        try:
            yield
        finally:
            if collector.hub is not None:
                with contextlib.suppress(Exception):
                    await collector.hub.stop()
            with contextlib.suppress(Exception):
                await collector.limiter.aclose()
            if collector.shared_consent is not None:
                with contextlib.suppress(Exception):
                    await collector.shared_consent.aclose()
            collector.close()
            collector.note(
                logging.INFO, "collector_stopped", flushed_rows=collector.flusher.rows_flushed
            )

    async def openapi_json(request: Request) -> Response:
        return Response(openapi, media_type="application/json")

    routes: list[BaseRoute] = []
    for kind, short in SHORT.items():
        handler = _ingest_handler(None if kind == "batch" else kind)
        endpoint = _endpoint(f"/v1/{kind}", handler)
        routes.append(Route(f"/v1/{kind}", endpoint, methods=["POST"]))
        routes.append(Route(f"/v1/{short}", endpoint, methods=["POST"]))
    routes.append(
        Route("/v1/import", _endpoint("/v1/batch", _ingest_handler(None)), methods=["POST"])
    )
    routes += [
        Route("/health", _endpoint("/health", _health), methods=["GET"]),
        Route("/ready", _endpoint("/ready", _ready), methods=["GET"]),
        Route("/metrics", _endpoint("/metrics", _metrics), methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]
    if enable_noop:
        routes.append(Route("/v1/noop", _endpoint("/v1/noop", _noop), methods=["POST"]))
    routes += live_routes(hub)
    return Starlette(routes=routes, lifespan=lifespan)
