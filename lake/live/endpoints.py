"""HTTP face of the live hub: SSE, WebSocket and the aggregates snapshot, with auth.

Auth: when ``PULSE_LIVE_TOKEN`` is set, every live endpoint requires
``Authorization: Bearer <token>`` or ``?token=<token>`` (EventSource and browser WebSockets cannot
set headers). When it is unset, the stream is open only on a loopback deployment: the configured
bind (``PULSE_HOST``) *and* the connecting client must both be loopback addresses — a collector on
``0.0.0.0`` (or behind a same-host reverse proxy that forwards outside clients) answers 401 and
asks for a token instead of leaking events to the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
from typing import Any

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from lake.live.filters import FilterError, LiveFilter
from lake.live.hub import LiveHub, Subscriber, now_minute

SSE_HEADERS = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
    "connection": "keep-alive",
}


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def check_auth(hub: LiveHub, conn: HTTPConnection) -> JSONResponse | None:
    """None if the connection may use the live stream, else the 401 to answer."""
    token = hub.settings.live_token
    if token:
        supplied = ""
        header = conn.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            supplied = header[7:].strip()
        else:
            supplied = conn.query_params.get("token", "")
        if supplied and hmac.compare_digest(supplied.encode(), token.encode()):
            return None
        return error(
            401,
            "unauthorized",
            "the live stream needs the live token: send 'Authorization: Bearer <PULSE_LIVE_TOKEN>' "
            "or ?token=<PULSE_LIVE_TOKEN>",
        )
    client = conn.client.host if conn.client else None
    if is_loopback(hub.settings.host) and is_loopback(client):
        return None
    return error(
        401,
        "unauthorized",
        "the live stream is open without a token only on a loopback bind; "
        "set PULSE_LIVE_TOKEN and send it as 'Authorization: Bearer <token>' or ?token=",
    )


def build_routes(hub: LiveHub) -> list[BaseRoute]:
    """The live endpoints over ``hub``, to mount in the collector app."""
    return [
        Route("/v1/live/events", _SSEEndpoint(hub), methods=["GET"]),
        WebSocketRoute("/v1/live/ws", _websocket_endpoint(hub)),
        Route("/v1/live/aggregates", _aggregates_endpoint(hub), methods=["GET"]),
    ]


# ---- SSE ----------------------------------------------------------------------------------------
def _sse_chunk(items: list[tuple[bytes, bytes]]) -> bytes:
    parts = []
    for name, payload in items:
        parts.append(b"event: " + name + b"\ndata: " + payload + b"\n\n")
    return b"".join(parts)


class _SSEEndpoint:
    """A raw ASGI endpoint: it watches ``http.disconnect`` itself, so a closed client frees its
    subscription at once rather than at the next heartbeat."""

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = self.hub
        request = Request(scope, receive)
        denied = check_auth(hub, request)
        if denied is not None:
            await denied(scope, receive, send)
            return
        try:
            live_filter = LiveFilter.from_query(request.query_params.multi_items())
        except FilterError as exc:
            await error(400, "invalid_filter", str(exc))(scope, receive, send)
            return
        sub = hub.new_subscriber(live_filter)
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        headers += [(k.encode(), v.encode()) for k, v in SSE_HEADERS.items()]

        async def watch_disconnect() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    sub.close()
                    return

        watcher = asyncio.create_task(watch_disconnect())
        hub.add(sub)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            first = b": connected\nretry: 2000\n\n"
            if live_filter.aggregates:
                first += _sse_chunk([(b"aggregate", orjson.dumps(hub.current_aggregate()))])
            await send({"type": "http.response.body", "body": first, "more_body": True})
            while not sub.closed:
                try:
                    async with asyncio.timeout(hub.heartbeat_seconds):
                        await sub.wake.wait()
                except TimeoutError:
                    await send(
                        {
                            "type": "http.response.body",
                            "body": b": heartbeat\n\n",
                            "more_body": True,
                        }
                    )
                    continue
                if sub.closed:
                    break
                items = sub.drain()
                if items:
                    body = _sse_chunk(items)
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # client went away mid-write
        finally:
            hub.remove(sub)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


# ---- WebSocket ----------------------------------------------------------------------------------
def _websocket_endpoint(hub: LiveHub):
    async def endpoint(websocket: WebSocket) -> None:
        denied = check_auth(hub, websocket)
        if denied is not None:
            if "websocket.http.response" in websocket.scope.get("extensions", {}):
                await websocket.send_denial_response(denied)
            else:
                await websocket.close(code=1008, reason="unauthorized: set/send PULSE_LIVE_TOKEN")
            return
        await websocket.accept()
        sub = hub.new_subscriber(None)  # nothing is delivered before the first subscribe
        sender = asyncio.create_task(_ws_sender(websocket, sub))
        try:
            while True:
                text = await websocket.receive_text()
                _ws_command(hub, sub, text)
        except WebSocketDisconnect:
            pass
        finally:
            hub.remove(sub)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    return endpoint


def _ws_command(hub: LiveHub, sub: Subscriber, text: str) -> None:
    try:
        command = orjson.loads(text)
        if not isinstance(command, dict) or "subscribe" not in command:
            raise FilterError('send {"subscribe": {filters}}, e.g. {"subscribe": {"event": ["X"]}}')
        live_filter = LiveFilter.from_json(command["subscribe"])
    except (orjson.JSONDecodeError, FilterError) as exc:
        sub.control({"kind": "error", "message": str(exc)})
        return
    sub.filter = live_filter
    hub.add(sub)
    sub.control({"kind": "subscribed", "filters": live_filter.describe()})
    if live_filter.aggregates:
        sub.control(hub.current_aggregate())


async def _ws_sender(websocket: WebSocket, sub: Subscriber) -> None:
    while not sub.closed:
        await sub.wake.wait()
        for _, payload in sub.drain():
            await websocket.send({"type": "websocket.send", "text": payload.decode()})
    # closed by the hub (server shutting down); a client disconnect cancels this task instead
    with contextlib.suppress(Exception):
        await websocket.close(code=1001, reason="server shutting down")


# ---- aggregates snapshot ------------------------------------------------------------------------
def _aggregates_endpoint(hub: LiveHub):
    async def endpoint(request: Request) -> Response:
        denied = check_auth(hub, request)
        if denied is not None:
            return denied
        raw = request.query_params.get("minutes", "60")
        try:
            minutes = int(raw)
            if minutes < 1:
                raise ValueError
        except ValueError:
            return error(
                400, "invalid_minutes", f"minutes must be a positive integer (got {raw!r})"
            )
        snapshot = hub.aggregates.snapshot(now_minute(), minutes)
        snapshot["hub_id"] = hub.hub_id
        snapshot["stats"] = hub.stats
        return JSONResponse(snapshot)

    return endpoint
