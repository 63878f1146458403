"""The live hub: accepted events → filtered subscribers, locally and across replicas via Redis.

Hot path: :meth:`LiveHub.publish` only appends the batch to a bounded backlog and sets an
:class:`asyncio.Event` (a few hundred nanoseconds, never blocks, never raises). A background
*pump* task drains the backlog, counts per-minute aggregates, and — only if someone can receive
them (a local subscriber, or Redis fan-out is configured) — turns rows into frames, hands them to
each matching subscriber's bounded queue and queues one Redis message per drained backlog.
A full subscriber queue drops the frame and counts it (the subscriber is told how many it lost).

Replicas (``settings.redis_url``): every hub publishes its batches to the channel
``<prefix>:events`` as ``{"o": hub_id, "c": [[minute, name, count], ...], "e": [frames]}`` and
subscribes to the same channel. Local events are delivered directly (no Redis round trip, lowest
latency); messages whose origin is this hub (the echo) are ignored, remote ones are delivered to
local subscribers and counted into this hub's aggregates, so every subscriber on any replica sees
every event exactly once and every replica's aggregates are global. Redis is best effort: if it
is down, local delivery continues, outgoing batches are dropped and counted, and the listener
reconnects with exponential backoff (0.1 s → 5 s). Redis publishes happen even with no local
subscriber, since other replicas' subscribers and aggregates need them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

import orjson

from core.settings import Settings
from lake.live.filters import LiveFilter
from lake.live.frames import US_PER_MINUTE, MinuteCounts, count_rows, row_to_frame

log = logging.getLogger(__name__)

# Queue item: (SSE event name, JSON bytes). Control items (acks, errors) bypass the size bound.
Item = tuple[bytes, bytes]


class Subscriber:
    """One connected client: its filter and a bounded queue of encoded frames."""

    __slots__ = ("closed", "dropped", "filter", "max_queue", "queue", "unreported", "wake")

    def __init__(self, live_filter: LiveFilter | None, max_queue: int) -> None:
        self.filter = live_filter
        self.queue: deque[Item] = deque()
        self.max_queue = max_queue
        self.wake = asyncio.Event()
        self.dropped = 0
        self.unreported = 0
        self.closed = False

    def offer(self, item: Item) -> bool:
        if len(self.queue) >= self.max_queue:
            self.dropped += 1
            self.unreported += 1
            return False
        self.queue.append(item)
        self.wake.set()
        return True

    def control(self, payload: dict[str, Any]) -> None:
        self.queue.append((payload["kind"].encode(), orjson.dumps(payload)))
        self.wake.set()

    def drain(self) -> list[Item]:
        """Everything queued, plus a ``dropped`` notice if frames were lost since the last drain."""
        items = list(self.queue)
        self.queue.clear()
        self.wake.clear()
        if self.unreported:
            notice = {"kind": "dropped", "count": self.unreported, "total": self.dropped}
            items.append((b"dropped", orjson.dumps(notice)))
            self.unreported = 0
        return items

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class LiveHub:
    """In-process broker of accepted events; Redis pub/sub fan-out when ``redis_url`` is set."""

    def __init__(
        self,
        settings: Settings,
        *,
        channel_prefix: str = "pulse:live",
        hub_id: str | None = None,
        max_subscriber_queue: int = 10_000,
        max_backlog_rows: int = 200_000,
        max_redis_outbox: int = 1_000,
        heartbeat_seconds: float = 15.0,
        aggregate_push_seconds: float = 5.0,
        aggregate_retention_minutes: int = 1440,
    ) -> None:
        self.settings = settings
        self.hub_id = hub_id or f"{settings.collector_id}-{uuid.uuid4().hex[:12]}"
        self.channel = f"{channel_prefix}:events"
        self.max_subscriber_queue = max_subscriber_queue
        self.max_backlog_rows = max_backlog_rows
        self.max_redis_outbox = max_redis_outbox
        self.heartbeat_seconds = heartbeat_seconds
        self.aggregate_push_seconds = aggregate_push_seconds
        self.aggregates = MinuteCounts(aggregate_retention_minutes)
        self.subscribers: set[Subscriber] = set()

        self._backlog: deque[Sequence[Any]] = deque()
        self._backlog_rows = 0
        self._wake: asyncio.Event | None = None
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._outbox: deque[bytes] = deque()
        self._outbox_wake: asyncio.Event | None = None
        self._redis_ready: asyncio.Event | None = None
        self._redis_connected = False

        self._published = 0
        self._delivered = 0
        self._dropped = 0
        self._backlog_dropped = 0
        self._remote_received = 0
        self._redis_published = 0
        self._redis_dropped = 0
        self._redis_errors = 0

    # ---- lifecycle ---------------------------------------------------------------------------
    @property
    def redis_enabled(self) -> bool:
        return bool(self.settings.redis_url)

    async def start(self) -> None:
        """Start the pump (and the Redis bridge). Waits up to 2 s for the Redis subscription."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._chain_exit_signals()
        self._tasks = [
            asyncio.create_task(self._pump(), name="live-pump"),
            asyncio.create_task(self._aggregate_pusher(), name="live-aggregates"),
        ]
        if self.redis_enabled:
            self._outbox_wake = asyncio.Event()
            self._redis_ready = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._redis_listener(), name="live-redis-sub"))
            self._tasks.append(asyncio.create_task(self._redis_publisher(), name="live-redis-pub"))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._redis_ready.wait()
            if not self._redis_connected:
                log.warning("live hub: Redis not reachable yet; retrying in the background")

    async def stop(self) -> None:
        """Stop background tasks and close every subscriber stream."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sub in list(self.subscribers):
            sub.close()
        self._wake = None
        self._loop = None

    def close_subscribers(self) -> None:
        """End every open stream (SSE response completes, WebSockets close with 1001)."""
        for sub in list(self.subscribers):
            sub.close()

    def _chain_exit_signals(self) -> None:
        """Close streams as soon as the server is told to stop.

        uvicorn waits for open responses before running the lifespan shutdown, so without this
        an idle SSE client would hold a SIGTERM'd collector for its whole graceful timeout.
        Only when running in the main thread under a server that installed Python-level
        SIGINT/SIGTERM handlers (uvicorn does): we wrap them and call the original."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue

            def handler(sig: int, frame: Any, previous: Any = previous) -> None:
                loop = self._loop
                if loop is not None and not loop.is_closed():
                    loop.call_soon_threadsafe(self.close_subscribers)
                previous(sig, frame)

            signal.signal(signum, handler)

    # ---- hot path ----------------------------------------------------------------------------
    def publish(self, rows: Sequence[Any]) -> None:
        """Hand accepted rows to the hub. O(1), never blocks, never raises.

        ``rows`` are bronze event rows (dicts); ``("event", row)`` WAL records are accepted too
        (quarantine records are skipped), so the collector can pass its prepared records as is.
        The list must not be mutated afterwards."""
        try:
            wake = self._wake
            if not rows or wake is None:
                return
            n = len(rows)
            if self._backlog_rows + n > self.max_backlog_rows:
                self._backlog_dropped += n
                return
            self._backlog.append(rows)
            self._backlog_rows += n
            if not self._wake_pending:
                self._wake_pending = True
                if threading.get_ident() == self._loop_thread:
                    wake.set()
                elif self._loop is not None:
                    self._loop.call_soon_threadsafe(wake.set)
        except Exception:  # the ingest path must never fail because of live
            log.exception("live hub: publish failed (ignored)")

    # ---- stats -------------------------------------------------------------------------------
    @property
    def stats(self) -> dict[str, Any]:
        return {
            "subscribers": len(self.subscribers),
            "published": self._published,
            "delivered": self._delivered,
            "dropped": self._dropped,
            "backlog_dropped": self._backlog_dropped,
            "remote_received": self._remote_received,
            "redis_enabled": self.redis_enabled,
            "redis_connected": self._redis_connected,
            "redis_published": self._redis_published,
            "redis_dropped": self._redis_dropped,
            "redis_errors": self._redis_errors,
        }

    # ---- subscribers -------------------------------------------------------------------------
    def new_subscriber(self, live_filter: LiveFilter | None = None) -> Subscriber:
        return Subscriber(live_filter, self.max_subscriber_queue)

    def add(self, sub: Subscriber) -> None:
        self.subscribers.add(sub)

    def remove(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        sub.close()

    def current_aggregate(self) -> dict[str, Any]:
        return self.aggregates.minute_frame(now_minute(), final=False)

    # ---- background: local batches -----------------------------------------------------------
    async def _pump(self) -> None:
        wake = self._wake
        assert wake is not None
        while True:
            await wake.wait()
            wake.clear()
            self._wake_pending = False
            while self._backlog:
                rows: list[dict[str, Any]] = []
                while self._backlog and len(rows) < 5_000:
                    batch = self._backlog.popleft()
                    self._backlog_rows -= len(batch)
                    for item in batch:
                        if isinstance(item, dict):
                            rows.append(item)
                        elif isinstance(item, tuple) and item[0] == "event":
                            rows.append(item[1])
                try:
                    self._handle_local(rows)
                except Exception:  # one bad batch must not stop the stream
                    log.exception("live hub: could not deliver a batch of %d rows", len(rows))
                await asyncio.sleep(0)  # let the ingest path run between chunks

    def _handle_local(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self._published += len(rows)
        counts = count_rows(rows, time.time_ns() // 1000)
        self.aggregates.add(counts)
        if not self.subscribers and not self.redis_enabled:
            return
        collector_id = self.settings.collector_id
        frames = [row_to_frame(row, collector_id) for row in rows]
        if self.redis_enabled:
            message = {"o": self.hub_id, "c": [[m, n, c] for (m, n), c in counts.items()]}
            message["e"] = frames
            self._queue_redis(orjson.dumps(message))
        self._deliver(frames)

    def _deliver(self, frames: list[dict[str, Any]]) -> None:
        subs = list(self.subscribers)
        if not subs:
            return
        delivered = dropped = 0
        for frame in frames:
            encoded: bytes | None = None
            name = b""
            for sub in subs:
                flt = sub.filter
                if flt is None or not flt.matches(frame):
                    continue
                if encoded is None:
                    encoded = orjson.dumps(frame)
                    name = (frame.get("type") or "event").encode()
                if sub.offer((name, encoded)):
                    delivered += 1
                else:
                    dropped += 1
        self._delivered += delivered
        self._dropped += dropped

    # ---- background: aggregates push ---------------------------------------------------------
    async def _aggregate_pusher(self) -> None:
        last = now_minute()
        while True:
            now = time.time()
            to_boundary = (int(now // 60) + 1) * 60 - now
            await asyncio.sleep(min(self.aggregate_push_seconds, to_boundary + 0.001))
            minute = now_minute()
            subs = [s for s in self.subscribers if s.filter is not None and s.filter.aggregates]
            if subs:
                frames = []
                if minute != last:
                    frames.append(self.aggregates.minute_frame(last, final=True))
                frames.append(self.aggregates.minute_frame(minute, final=False))
                for frame in frames:
                    item = (b"aggregate", orjson.dumps(frame))
                    for sub in subs:
                        if sub.offer(item):
                            self._delivered += 1
                        else:
                            self._dropped += 1
            last = minute

    # ---- background: Redis -------------------------------------------------------------------
    def _queue_redis(self, payload: bytes) -> None:
        if len(self._outbox) >= self.max_redis_outbox:
            self._outbox.popleft()
            self._redis_dropped += 1
        self._outbox.append(payload)
        if self._outbox_wake is not None:
            self._outbox_wake.set()

    async def _redis_publisher(self) -> None:
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        assert self._outbox_wake is not None and self.settings.redis_url
        client = aioredis.Redis.from_url(self.settings.redis_url, socket_timeout=5.0)
        backoff = 0.1
        try:
            while True:
                await self._outbox_wake.wait()
                self._outbox_wake.clear()
                while self._outbox:
                    chunk = [self._outbox.popleft() for _ in range(min(100, len(self._outbox)))]
                    try:
                        pipe = client.pipeline(transaction=False)
                        for payload in chunk:
                            pipe.publish(self.channel, payload)
                        await pipe.execute()
                        self._redis_published += len(chunk)
                        backoff = 0.1
                    except (RedisError, OSError) as exc:
                        self._redis_errors += 1
                        self._redis_dropped += len(chunk)
                        log.warning(
                            "live hub: Redis publish failed (%s); retry in %.1fs", exc, backoff
                        )
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 5.0)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _redis_listener(self) -> None:
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        assert self._redis_ready is not None and self.settings.redis_url
        backoff = 0.1
        while True:
            client = aioredis.Redis.from_url(
                self.settings.redis_url,
                health_check_interval=15,
                client_name=f"pulse-live-sub-{self.hub_id}",
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._redis_connected = True
                self._redis_ready.set()
                backoff = 0.1
                log.info("live hub %s: subscribed to %s", self.hub_id, self.channel)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._on_remote(message["data"])
            except (RedisError, OSError) as exc:
                self._redis_errors += 1
                log.warning("live hub: Redis subscription lost (%s); retry in %.1fs", exc, backoff)
            finally:
                self._redis_connected = False
                self._redis_ready.set()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def _on_remote(self, data: bytes) -> None:
        try:
            message = orjson.loads(data)
            if message.get("o") == self.hub_id:
                return  # our own batch: already delivered locally
            frames = message.get("e") or []
            self._remote_received += len(frames)
            self.aggregates.add(tuple(c) for c in message.get("c") or [])
            self._deliver(frames)
        except Exception:  # a malformed message must not kill the listener
            log.exception("live hub: ignored a malformed Redis message")


def now_minute() -> int:
    """The current minute (microseconds since the epoch // one minute): the aggregates' key."""
    return time.time_ns() // 1000 // US_PER_MINUTE
