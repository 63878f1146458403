"""The Segment-compatible HTTP collector (Starlette + orjson).

Request path: parse → authenticate (write key) → mask PII → validate (invalid → quarantine
record) → WAL append + fsync → 200. Only after the WAL returned is the request acked; the
:class:`~lake.collector.flusher.Flusher` moves WAL records to Delta in the background and flushes
everything on shutdown.

Write key: HTTP Basic username (``key:`` or ``key``), ``X-Write-Key`` header, or ``writeKey`` in
the body. Errors are JSON ``{"code", "message"}``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lake.collector.flusher import Flusher
from lake.pipeline import mask_batch_envelope, prepare
from lake.privacy import MaskCounts, key_bytes
from lake.sources import Source, authenticate
from lake.wal import WALClosedError, WriteAheadLog
from lake.writer import DeltaSink
from pulse.metadata import engine_for
from pulse.settings import Settings

log = logging.getLogger(__name__)

SINGLE_TYPES = ("track", "identify", "page", "screen", "group", "alias")


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


@dataclass
class CollectorStats:
    """Counters for /metrics (a later issue); kept in-process."""

    requests: int = 0
    accepted: int = 0
    quarantined: int = 0
    rejected_requests: dict[str, int] = field(default_factory=dict)
    masked: MaskCounts = field(default_factory=MaskCounts)

    def reject(self, code: str) -> None:
        self.rejected_requests[code] = self.rejected_requests.get(code, 0) + 1


class Collector:
    """Everything the request handlers share; opened and closed by the app lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.key = key_bytes(settings.pii_hmac_key)
        self.stats = CollectorStats()
        self.engine = engine_for(settings)
        self.sink = DeltaSink(settings)
        committed = Flusher.committed_offsets(settings, self.sink)
        done = [v for v in committed.values() if v is not None]
        self.wal = WriteAheadLog(
            settings.wal_dir / settings.collector_id,
            min_next_offset=max(done) + 1 if done else 0,
        )
        self.flusher = Flusher(settings, self.sink, self.wal)
        self.wal.on_durable = self.flusher.notify

    def start(self) -> None:
        self.flusher.start()
        self.flusher.wake()  # replay whatever a previous run left in the WAL right away

    def close(self) -> None:
        try:
            self.flusher.stop(final_flush=True)
        finally:
            self.wal.close()

    def authenticate(self, request: Request, body: Any) -> Source | None:
        return authenticate(self.engine, _write_key(request, body))


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


async def _ingest(request: Request, *, single_type: str | None) -> Response:
    collector: Collector = request.app.state.collector
    stats = collector.stats
    stats.requests += 1
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        stats.reject("invalid_json")
        return error(400, "invalid_json", f"request body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        stats.reject("invalid_body")
        return error(400, "invalid_body", "request body must be a JSON object")
    source = collector.authenticate(request, body)
    if source is None:
        stats.reject("unauthorized")
        return error(
            401,
            "unauthorized",
            "missing or unknown write key: send it as the HTTP Basic username, "
            "the X-Write-Key header or writeKey in the body",
        )
    if single_type is None:
        messages = body.get("batch")
        if not isinstance(messages, list):
            stats.reject("invalid_body")
            return error(400, "invalid_body", "batch must be an array of messages")
        batch_context = mask_batch_envelope(body.get("context"), collector.key, stats.masked)
        integrations = body.get("integrations")
        batch_integrations = integrations if isinstance(integrations, dict) else None
        batch_sent_at = body.get("sentAt")
    else:
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
        client_ip=request.client.host if request.client else None,
        default_type=single_type,
    )
    if prepared.records:
        try:
            await collector.wal.append_async(prepared.records)
        except (OSError, WALClosedError) as exc:
            log.error("WAL append failed: %s", exc)
            stats.reject("wal_unavailable")
            return error(503, "wal_unavailable", "could not persist events; retry later")
    stats.accepted += prepared.accepted
    stats.quarantined += prepared.quarantined
    stats.masked.add(prepared.masked)
    content: dict[str, Any] = {
        "success": True,
        "accepted": prepared.accepted,
        "quarantined": prepared.quarantined,
    }
    if prepared.errors:
        content["errors"] = prepared.errors
    return JSONResponse(content)


async def batch(request: Request) -> Response:
    return await _ingest(request, single_type=None)


def _single(message_type: str):
    async def endpoint(request: Request) -> Response:
        return await _ingest(request, single_type=message_type)

    endpoint.__name__ = f"single_{message_type}"
    return endpoint


async def health(request: Request) -> Response:
    collector: Collector = request.app.state.collector
    flusher = collector.flusher
    return JSONResponse(
        {
            "status": "ok",
            "collector_id": collector.settings.collector_id,
            "wal_pending": flusher.pending,
            "last_flush_error": flusher.last_error,
        }
    )


def create_app(settings: Settings) -> Starlette:
    """The collector ASGI app; the lifespan opens the WAL and runs the flusher."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        collector = Collector(settings)
        app.state.collector = collector
        collector.start()
        log.info("collector %s ready (WAL at %s)", settings.collector_id, collector.wal.directory)
        try:
            yield
        finally:
            collector.close()
            log.info("collector %s stopped; WAL flushed", settings.collector_id)

    routes = [
        Route("/v1/batch", batch, methods=["POST"]),
        Route("/v1/import", batch, methods=["POST"]),
        *(Route(f"/v1/{t}", _single(t), methods=["POST"]) for t in SINGLE_TYPES),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
