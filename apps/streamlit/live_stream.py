"""The collector's live stream, read on the dashboard server for the Live page.

One :class:`LiveStream` per distinct filter: a daemon thread reads ``GET /v1/live/events``
(Server-Sent Events, filtered by the hub: ``event``, ``type``, ``source_id``) into a bounded
:class:`LiveBuffer` — per-second and per-minute counts and the latest events — which the page
redraws from once a second. Every browser session looking at the same filter shares the thread
(the page caches streams with ``st.cache_resource``); nothing here imports Streamlit.

Reconnects by itself: when the collector goes away (restart, crash, network) the state becomes
``reconnecting`` and the thread retries after the server's ``retry:`` interval (2 s from the
collector), growing ×1.5 per failed attempt up to 15 s, with jitter. A 401 (live token missing
or wrong) or 4xx (filter refused) is shown as such and retried slowly, since only a change of
configuration fixes it. On every (re)connection the per-minute history is seeded from
``GET /v1/live/aggregates`` (the hub keeps 24 h of per-minute counts by event name) when the
filter can be answered from those counts (no source filter), so the per-minute chart is full
from the first second and a collector restart leaves no hole in it.

A stream nobody has read for ``idle_seconds`` disconnects and ends; :attr:`LiveStream.alive`
turns false so the page's cache starts a fresh one when someone looks again.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import orjson

from core.settings import Settings
from lake.internal_source import DASHBOARD_EVENTS, DASHBOARDS_ANONYMOUS_ID

log = logging.getLogger(__name__)

MESSAGE_TYPES = ("track", "page", "screen", "identify", "group", "alias")
# The hub counts a message under its event name, else its type (lake.live.frames.aggregate_name).
NON_TRACK_TYPES = frozenset(MESSAGE_TYPES) - {"track"}

State = Literal["connecting", "live", "reconnecting", "unauthorized", "refused", "stopped"]

DEFAULT_RETRY_S = 2.0  # until the server says otherwise (the collector sends retry: 2000)
MAX_RETRY_S = 15.0
READ_TIMEOUT_S = 45.0  # the hub sends a heartbeat every 15 s: three missed means a dead link
SECONDS_KEPT = 300
MINUTES_KEPT = 180


# ---- what to read -------------------------------------------------------------------------------
def collector_url(settings: Settings) -> str:
    """Where the dashboard reaches the collector: its bind address, with a wildcard bind
    (``0.0.0.0``, ``::``) reached over loopback."""
    host = settings.host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.collector_port}"


@dataclass(frozen=True)
class StreamSpec:
    """One live stream: the collector, its live token, and the hub-side filters (within one
    field the values are alternatives; fields combine with AND)."""

    url: str
    token: str | None = field(default=None, repr=False)
    events: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("events", "types", "sources"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))
        object.__setattr__(self, "url", self.url.rstrip("/"))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        events: Iterable[str] = (),
        types: Iterable[str] = (),
        sources: Iterable[str] = (),
    ) -> StreamSpec:
        return cls(
            collector_url(settings),
            settings.live_token or None,
            tuple(events),
            tuple(types),
            tuple(sources),
        )

    def params(self) -> list[tuple[str, str]]:
        """The SSE query parameters (:class:`lake.live.filters.LiveFilter`)."""
        return (
            [("event", e) for e in self.events]
            + [("type", t) for t in self.types]
            + [("source_id", s) for s in self.sources]
        )

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def seedable(self) -> bool:
        """Whether the hub's per-minute counts (by event name) can answer this filter."""
        return not self.sources

    def counts_name(self, name: str) -> bool:
        """Whether the hub's per-minute count of ``name`` (event name, or type for non-track
        messages) belongs to this filter. The dashboards' own usage events are never counted:
        the page shows the app's traffic, not its viewers' clicks."""
        if name in DASHBOARD_EVENTS:
            return False
        is_type = name in NON_TRACK_TYPES
        if self.types and not (
            (is_type and name in self.types) or (not is_type and "track" in self.types)
        ):
            return False
        return not self.events or (not is_type and name in self.events)


# ---- SSE wire format ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SSEMessage:
    event: str
    data: str
    id: str | None = None


class SSEParser:
    """The ``text/event-stream`` format (WHATWG HTML §9.2.6), one line at a time."""

    def __init__(self) -> None:
        self.retry_ms: int | None = None
        self.last_id: str | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SSEMessage | None:
        """A line without its end of line; returns the message a blank line completes."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            message = SSEMessage(self._event or "message", "\n".join(self._data), self.last_id)
            self._event, self._data = "", []
            return message
        if line.startswith(":"):
            return None  # comment (": connected", ": heartbeat")
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


def backoff_seconds(retry_s: float, failures: int, *, jitter: float = 0.1) -> float:
    """Delay before the next attempt after ``failures`` failed ones in a row (≥ 1)."""
    delay = min(MAX_RETRY_S, max(retry_s, 0.1) * 1.5 ** max(failures - 1, 0))
    return delay * random.uniform(1 - jitter, 1 + jitter)


# ---- the buffer ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamStatus:
    state: State
    message: str
    since: float  # epoch seconds of the last change of state
    retry_at: float | None = None  # epoch seconds of the next attempt
    connected_at: float | None = None
    failures: int = 0


@dataclass(frozen=True)
class LiveView:
    """What the page draws, copied out of the buffer at one instant (epoch seconds ``now``)."""

    status: StreamStatus
    now: float
    per_second: list[tuple[datetime, int]]  # the last 60 s, oldest first, empty seconds included
    per_minute: list[tuple[datetime, int]]  # the last 60 min, the current one last
    last_minute: int  # events in the last 60 s
    per_second_rate: float  # events/s over the last 10 s
    recent: list[dict[str, Any]]  # newest first
    total: int  # events received since the stream started
    listening_since: float | None  # first connection (epoch seconds)
    minutes_seeded: bool  # per-minute history comes from the hub's counts too
    last_event_at: float | None
    dropped: int  # frames the hub dropped for this stream (it was too slow)


def _epoch(iso: Any, fallback: float) -> float:
    if isinstance(iso, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(iso).timestamp()
    return fallback


def _utc(epoch: float) -> datetime:
    """Naive UTC wall time (charts show it as is, labelled UTC)."""
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


class LiveBuffer:
    """Counts and the latest events of one stream, bounded; thread-safe."""

    def __init__(self, spec: StreamSpec, *, recent_limit: int = 500) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._recent: deque[dict[str, Any]] = deque(maxlen=recent_limit)
        self._seconds: dict[int, int] = {}
        # Per minute: what the hub said at the last snapshot (base), what the stream brought since
        # (live), and what earlier hubs counted before a collector restart (frozen).
        self._base: dict[int, int] = {}
        self._live: dict[int, int] = {}
        self._frozen: dict[int, int] = {}
        self._hub_id: str | None = None
        self._seeded = False
        self.total = 0
        self.dropped = 0
        self.last_event_at: float | None = None

    def add_event(self, frame: Mapping[str, Any], now: float | None = None) -> None:
        if frame.get("anonymous_id") == DASHBOARDS_ANONYMOUS_ID:
            return  # the dashboards' own usage (docs/dashboards.md "Adoption"), not the app's
        arrived = time.time() if now is None else now
        at = _epoch(frame.get("received_at"), arrived)
        second, minute = int(at), int(at // 60)
        properties = frame.get("properties") or {}
        row = {
            "received_at": at,
            "type": frame.get("type") or "",
            "event": frame.get("event") or frame.get("name") or "",
            "user": frame.get("user_id") or frame.get("anonymous_id") or "",
            "source_id": frame.get("source_id") or "",
            "properties": orjson.dumps(properties).decode()[:300] if properties else "",
            "message_id": frame.get("message_id") or "",
        }
        with self._lock:
            self._recent.append(row)
            self._seconds[second] = self._seconds.get(second, 0) + 1
            self._live[minute] = self._live.get(minute, 0) + 1
            self.total += 1
            self.last_event_at = arrived
            if len(self._seconds) > SECONDS_KEPT + 60:
                self._prune(arrived)

    def add_dropped(self, count: int) -> None:
        with self._lock:
            self.dropped += count

    def seed_minutes(self, snapshot: Mapping[str, Any]) -> None:
        """Take the hub's per-minute counts (``GET /v1/live/aggregates``) as the history."""
        counts: dict[int, int] = {}
        for bucket in snapshot.get("buckets") or []:
            minute = int(_epoch(bucket.get("minute"), 0) // 60)
            n = sum(
                c for name, c in (bucket.get("counts") or {}).items() if self.spec.counts_name(name)
            )
            if minute and n:
                counts[minute] = n
        hub_id = snapshot.get("hub_id")
        with self._lock:
            if self._hub_id is not None and hub_id != self._hub_id:
                # Another hub (the collector restarted): what the old one counted stays.
                for source in (self._base, self._live):
                    for minute, n in source.items():
                        self._frozen[minute] = self._frozen.get(minute, 0) + n
            # Same hub: its counts include what this stream saw so far.
            self._base, self._live = counts, {}
            self._hub_id = hub_id
            self._seeded = True

    def _prune(self, now: float) -> None:
        oldest_second = int(now) - SECONDS_KEPT
        for second in [s for s in self._seconds if s < oldest_second]:
            del self._seconds[second]
        oldest_minute = int(now // 60) - MINUTES_KEPT
        for counts in (self._base, self._live, self._frozen):
            for minute in [m for m in counts if m < oldest_minute]:
                del counts[minute]

    def view(
        self, status: StreamStatus, listening_since: float | None, now: float | None = None
    ) -> LiveView:
        now = time.time() if now is None else now
        this_second, this_minute = int(now), int(now // 60)
        with self._lock:
            self._prune(now)
            seconds = [
                (s, self._seconds.get(s, 0)) for s in range(this_second - 59, this_second + 1)
            ]
            last_minute = sum(
                n for s, n in self._seconds.items() if this_second - 60 < s <= this_second
            )
            last_ten = sum(
                n for s, n in self._seconds.items() if this_second - 10 < s <= this_second
            )
            minutes = [
                (
                    m,
                    self._frozen.get(m, 0) + self._base.get(m, 0) + self._live.get(m, 0),
                )
                for m in range(this_minute - 59, this_minute + 1)
            ]
            recent = list(reversed(self._recent))
            total, dropped, last_event_at, seeded = (
                self.total,
                self.dropped,
                self.last_event_at,
                self._seeded,
            )
        return LiveView(
            status=status,
            now=now,
            per_second=[(_utc(s), n) for s, n in seconds],
            per_minute=[(_utc(m * 60), n) for m, n in minutes],
            last_minute=last_minute,
            per_second_rate=last_ten / 10,
            recent=recent,
            total=total,
            listening_since=listening_since,
            minutes_seeded=seeded,
            last_event_at=last_event_at,
            dropped=dropped,
        )


# ---- the reader thread --------------------------------------------------------------------------
class StreamRefused(Exception):
    """The stream request was answered with an error status (auth, filter, not found, 5xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error_message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.read())
        return str(body.get("message") or body)
    except (orjson.JSONDecodeError, httpx.HTTPError, AttributeError):
        return f"The collector answered HTTP {response.status_code} to the live stream request"


class LiveStream:
    """A daemon thread reading one :class:`StreamSpec` into a :class:`LiveBuffer`."""

    def __init__(
        self,
        spec: StreamSpec,
        *,
        idle_seconds: float = 300.0,
        recent_limit: int = 500,
        read_timeout: float = READ_TIMEOUT_S,
        start: bool = True,
    ) -> None:
        self.spec = spec
        self.idle_seconds = idle_seconds
        self.read_timeout = read_timeout
        self.buffer = LiveBuffer(spec, recent_limit=recent_limit)
        self.retry_s = DEFAULT_RETRY_S
        self.listening_since: float | None = None
        self.connections = 0
        self._status = StreamStatus("connecting", f"Connecting to {spec.url}…", time.time())
        self._failures = 0
        self._stop = threading.Event()
        self._last_read = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"pulse-live {spec}", daemon=True)
        if start:
            self._thread.start()

    # ---- what the page calls ----
    @property
    def status(self) -> StreamStatus:
        return self._status

    @property
    def alive(self) -> bool:
        return not self._stop.is_set() and self._thread.is_alive()

    def view(self) -> LiveView:
        """The buffer now; also marks the stream as read (it stays connected)."""
        self._last_read = time.monotonic()
        return self.buffer.view(self._status, self.listening_since)

    def close(self) -> None:
        """Stop reading (at the next line or heartbeat at the latest)."""
        self._stop.set()
        self._set("stopped", "Stopped.")

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # ---- the thread ----
    def _set(self, state: State, message: str, **extra: Any) -> None:
        self._status = StreamStatus(state, message, time.time(), **extra)

    def _run(self) -> None:
        with httpx.Client(
            timeout=httpx.Timeout(5.0, read=self.read_timeout),
            headers={"Accept": "text/event-stream", **self.spec.headers()},
        ) as client:
            while not self._stop.is_set():
                try:
                    self._read(client)  # returns when the server ends the stream (shutdown)
                    self._failures += 1
                    reason = "The collector closed the stream"
                    self._retry_later("reconnecting", reason, self._backoff())
                except StreamRefused as exc:
                    self._failures += 1
                    if exc.status >= 500:  # e.g. a proxy in front of a restarting collector
                        self._retry_later("reconnecting", str(exc), self._backoff())
                    else:
                        # Only a change of configuration (token, filter, URL) fixes a 4xx: slowly.
                        state: State = "unauthorized" if exc.status == 401 else "refused"
                        self._retry_later(state, str(exc), MAX_RETRY_S)
                except (httpx.HTTPError, OSError) as exc:
                    self._failures += 1
                    self._retry_later(
                        "reconnecting", _describe(exc, self.spec.url), self._backoff()
                    )
                except _Idle:
                    break
                except Exception as exc:  # a bug must not end the stream for good
                    log.exception("live stream %s: unexpected error", self.spec.url)
                    self._failures += 1
                    self._retry_later("reconnecting", f"Unexpected error: {exc}", self._backoff())
                retry_at = self._status.retry_at or time.time()
                if self._stop.wait(max(0.0, retry_at - time.time())) or self._idle():
                    break
        if not self._stop.is_set():
            self._stop.set()
            self._set("stopped", f"No page read this stream for {self.idle_seconds:.0f} s.")

    def _idle(self) -> bool:
        return time.monotonic() - self._last_read > self.idle_seconds

    def _backoff(self) -> float:
        return backoff_seconds(self.retry_s, self._failures)

    def _retry_later(self, state: State, reason: str, delay: float) -> None:
        if not self._stop.is_set():
            retry_at = time.time() + delay
            self._set(state, reason, retry_at=retry_at, failures=self._failures)

    def _read(self, client: httpx.Client) -> None:
        url = self.spec.url + "/v1/live/events"
        with client.stream("GET", url, params=self.spec.params()) as response:
            if response.status_code != 200:
                raise StreamRefused(response.status_code, _error_message(response))
            connected = time.time()
            self._failures = 0
            self.connections += 1
            if self.listening_since is None:
                self.listening_since = connected
            self._seed(client)
            self._set("live", f"Connected to {self.spec.url}", connected_at=connected)
            parser = SSEParser()
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                message = parser.feed(line)
                if parser.retry_ms is not None:
                    self.retry_s = parser.retry_ms / 1000
                if message is not None:
                    self._handle(message)
                if not line and self._idle():
                    raise _Idle

    def _seed(self, client: httpx.Client) -> None:
        if not self.spec.seedable:
            return
        try:
            response = client.get(self.spec.url + "/v1/live/aggregates", params={"minutes": 60})
            if response.status_code == 200:
                self.buffer.seed_minutes(orjson.loads(response.content))
        except (httpx.HTTPError, orjson.JSONDecodeError) as exc:
            log.info("live stream: no per-minute history from %s (%s)", self.spec.url, exc)

    def _handle(self, message: SSEMessage) -> None:
        try:
            data = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(data, dict):
            return
        kind = data.get("kind")
        if kind == "event":
            self.buffer.add_event(data)
        elif kind == "dropped":
            self.buffer.add_dropped(int(data.get("count") or 0))


class _Idle(Exception):
    pass


def _describe(exc: BaseException, url: str) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"Cannot reach the collector at {url} ({exc or 'connection failed'})"
    if isinstance(exc, httpx.TimeoutException):
        return f"The collector at {url} stopped answering ({type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return f"Lost the connection to the collector at {url}"
    return f"{type(exc).__name__} talking to {url}: {exc}"


def known_event_names(url: str, token: str | None = None, *, minutes: int = 1440) -> list[str]:
    """Track event names the collector counted in the last ``minutes`` (its per-minute
    aggregates), for a filter's options; empty when it cannot be asked."""
    try:
        response = httpx.get(
            url.rstrip("/") + "/v1/live/aggregates",
            params={"minutes": minutes},
            headers=StreamSpec(url, token).headers(),
            timeout=1.0,
        )
        if not response.is_success:
            return []
        totals = orjson.loads(response.content).get("totals") or {}
    except (httpx.HTTPError, orjson.JSONDecodeError, AttributeError):
        return []
    return sorted(name for name in totals if name not in NON_TRACK_TYPES)
