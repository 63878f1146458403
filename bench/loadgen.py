"""An HTTP load generator that should not be the bottleneck before the server is.

Raw keep-alive HTTP/1.1 over asyncio (uvloop when installed) ``Protocol`` connections: every
request is pre-encoded (request line, headers and body, once per body template) and made unique
per send by one ``bytes.join`` that writes a fixed-width request id into every ``messageId``
(same length, so ``Content-Length`` never changes). Responses are parsed only as far as the status
line and ``Content-Length`` (or a chunked body's end). Load can be spread over several client
processes (``processes``), each with its own event loop.

Two modes:

- **closed loop** (:func:`run` with ``rate=None``): ``connections`` connections send back to back
  for ``duration`` seconds; throughput = 200-acked requests completed inside the window.
- **open loop** (``rate=R`` requests/s): requests are due at ``t0 + i/R`` whatever happened to the
  previous ones; a free connection takes the next due request, and latency is measured from the
  *intended* send time, so a stalled server shows up as latency instead of silently lowering the
  offered load (no coordinated omission).

Every response is counted by status (``-1`` = transport error / closed connection). Message ids are
``bench-<request id>-<index>`` with ``<request id>`` = run tag (4) + process (2) + sequence (10):
:func:`parse_message_id` maps one back to its request, whose send time is in the result, so a
consumer (Delta, a live subscriber) can compute event → visible latency.
"""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import os
import resource
import secrets
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

RID_LEN = 16
_PLACEHOLDER = b"Q" * RID_LEN
STATUS_TRANSPORT_ERROR = -1


# ---- request templates --------------------------------------------------------------------------
@dataclass(frozen=True)
class Template:
    """One pre-encoded request split at the request-id placeholders: ``rid.join(parts)``."""

    parts: tuple[bytes, ...]
    events: int

    def render(self, rid: bytes) -> bytes:
        return rid.join(self.parts)


def make_templates(
    messages: Sequence[dict[str, Any]],
    *,
    host: str,
    port: int,
    path: str,
    write_key: str,
    batch_size: int = 100,
    max_templates: int = 64,
) -> list[Template]:
    """Pre-encode batches of ``batch_size`` messages (cycled from ``messages``) as full requests.

    Each message's ``messageId`` becomes ``bench-<rid>-<i>`` and ``sentAt`` is set (static: the
    skew correction only needs a plausible value). HTTP Basic auth with the write key as user.
    """
    if not messages:
        raise ValueError("need at least one message")
    auth = base64.b64encode(f"{write_key}:".encode()).decode()
    n = max(1, min(max_templates, len(messages) // batch_size or 1))
    templates = []
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    for t in range(n):
        batch = []
        for i in range(batch_size):
            msg = dict(messages[(t * batch_size + i) % len(messages)])
            msg["messageId"] = f"bench-{_PLACEHOLDER.decode()}-{i:04d}"
            msg["sentAt"] = sent_at
            batch.append(msg)
        body = orjson.dumps({"batch": batch, "sentAt": sent_at})
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        parts = tuple((head + body).split(_PLACEHOLDER))
        if len(parts) != batch_size + 1:
            raise ValueError("a message already contains the request-id placeholder")
        templates.append(Template(parts, batch_size))
    return templates


def parse_message_id(message_id: str) -> tuple[str, int, int] | None:
    """``bench-<tag><proc><seq>-<i>`` → (tag, process, sequence), or None if not ours."""
    if not message_id.startswith("bench-") or len(message_id) < 6 + RID_LEN:
        return None
    rid = message_id[6 : 6 + RID_LEN]
    try:
        return rid[:4], int(rid[4:6]), int(rid[6:])
    except ValueError:
        return None


def new_tag() -> str:
    return secrets.token_hex(2)


# ---- results ------------------------------------------------------------------------------------
@dataclass
class LoadResult:
    mode: str
    tag: str
    duration: float  # measured window (s)
    processes: int
    connections: int
    events_per_request: int
    requests: int = 0  # responses (any status) + transport errors inside the window
    ok: int = 0  # 200 responses inside the window
    status_counts: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)  # per response inside the window
    client_cpu_s: float = 0.0  # user+sys of the client processes during the run
    target_rate: float | None = None  # open loop: requests/s asked for
    late_sends: int = 0  # open loop: requests sent > 5 ms after their intended time
    # send times (time.monotonic) per (process, sequence), for event → visible latency
    send_times: dict[int, array] = field(default_factory=dict)
    error_sample: str | None = None

    @property
    def sent(self) -> int:
        """Requests sent (including ones outside the measured window)."""
        return sum(len(t) for t in self.send_times.values())

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    @property
    def ok_per_s(self) -> float:
        return self.ok / self.duration if self.duration else 0.0

    @property
    def events_per_s(self) -> float:
        return self.ok_per_s * self.events_per_request

    @property
    def client_cpu_share(self) -> float:
        """Client CPU seconds per wall second (1.0 = one full core)."""
        return self.client_cpu_s / self.duration if self.duration else 0.0

    def percentile(self, q: float) -> float | None:
        return percentile(self.latencies_ms, q)

    def send_time(self, process: int, seq: int) -> float | None:
        times = self.send_times.get(process)
        if times is None or seq >= len(times) or times[seq] == 0.0:
            return None
        return times[seq]

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "processes": self.processes,
            "connections": self.connections,
            "seconds": round(self.duration, 2),
            "requests": self.requests,
            "ok": self.ok,
            "events_per_s": round(self.events_per_s),
            "status_counts": self.status_counts,
            "p50_ms": _round(self.percentile(50)),
            "p99_ms": _round(self.percentile(99)),
            "max_ms": _round(max(self.latencies_ms) if self.latencies_ms else None),
            "client_cpu_share": round(self.client_cpu_share, 2),
            "late_sends": self.late_sends,
        }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def percentile(values: Iterable[float], q: float) -> float | None:
    data = sorted(values)
    if not data:
        return None
    k = (len(data) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


# ---- the client ---------------------------------------------------------------------------------
class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with at most one request in flight."""

    __slots__ = ("body_sample", "buf", "closed", "transport", "waiter")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.body_sample: bytes | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.closed = True
        w = self.waiter
        if w is not None and not w.done():
            self.waiter = None
            w.set_result(STATUS_TRANSPORT_ERROR)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is not None:
            self._parse()

    def _parse(self) -> None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        i = head.find(b"\r\ncontent-length:")
        if i >= 0:
            j = head.find(b"\r\n", i + 17)
            total = end + 4 + int(head[i + 17 : j if j >= 0 else len(head)])
            if len(buf) < total:
                return
        elif b"transfer-encoding: chunked" in head:
            k = buf.find(b"\r\n0\r\n\r\n", end)
            if k < 0:
                return
            total = k + 7
        else:  # no body framing: body until close (we do not expect this)
            total = end + 4
        status = int(buf[9:12])
        if status != 200 and self.body_sample is None:
            self.body_sample = bytes(buf[:total][:400])
        del buf[:total]
        if b"\r\nconnection: close" in head:
            self.closed = True
        w = self.waiter
        self.waiter = None
        w.set_result(status)

    def request(self, data: bytes) -> asyncio.Future:
        w = asyncio.get_running_loop().create_future()
        self.waiter = w
        self.transport.write(data)
        if self.buf:
            self._parse()
        return w


async def _connect(host: str, port: int) -> _Conn:
    loop = asyncio.get_running_loop()
    _transport, conn = await loop.create_connection(_Conn, host, port)
    return conn


@dataclass
class _Spec:
    host: str
    port: int
    templates: list[Template]
    connections: int
    duration: float
    warmup: float
    rate: float | None  # requests/s for this process (open loop), None = closed loop
    tag: str
    process: int
    start_at: float  # time.monotonic() at which all processes start


async def _run_process_async(spec: _Spec) -> dict[str, Any]:
    conns = [await _connect(spec.host, spec.port) for _ in range(spec.connections)]
    templates = spec.templates
    n_templates = len(templates)
    prefix = f"{spec.tag}{spec.process:02d}".encode()
    status_counts: dict[int, int] = {}
    latencies = array("d")
    send_times = array("d")
    seq = 0
    late = 0
    body_sample: list[bytes] = []

    now = time.monotonic()
    if spec.start_at > now:
        await asyncio.sleep(spec.start_at - now)
    t_start = time.monotonic()
    win_lo = t_start + spec.warmup
    win_hi = win_lo + spec.duration
    ru0 = resource.getrusage(resource.RUSAGE_SELF)

    async def send(conn: _Conn, intended: float | None) -> tuple[_Conn, int, float]:
        nonlocal seq
        s = seq
        seq += 1
        data = templates[s % n_templates].render(prefix + b"%010d" % s)
        t0 = time.monotonic()
        send_times.append(t0)
        if conn.closed:
            try:
                conn = await _connect(spec.host, spec.port)
            except OSError:
                return conn, STATUS_TRANSPORT_ERROR, t0 if intended is None else min(intended, t0)
        status = await conn.request(data)
        if status != 200 and conn.body_sample and not body_sample:
            body_sample.append(conn.body_sample)
        # from the intended time (a late send is latency), or from the actual send when an early
        # timer wake-up sent it before the intended time
        return conn, status, t0 if intended is None else min(intended, t0)

    open_loop = spec.rate is not None

    def record(status: int, t_from: float, t_done: float) -> None:
        # closed loop: what completed inside the window; open loop: every scheduled request
        # (all are due inside the window), however late its response
        if win_lo <= t_from and (open_loop or t_done <= win_hi):
            status_counts[status] = status_counts.get(status, 0) + 1
            latencies.append((t_done - t_from) * 1000.0)

    if spec.rate is None:

        async def closed(conn: _Conn) -> None:
            while time.monotonic() < win_hi:
                conn, status, t0 = await send(conn, None)
                record(status, t0, time.monotonic())
                if status == STATUS_TRANSPORT_ERROR:
                    await asyncio.sleep(0.01)

        await asyncio.gather(*(closed(c) for c in conns))
    else:
        free: asyncio.Queue[_Conn] = asyncio.Queue()
        for c in conns:
            free.put_nowait(c)
        interval = 1.0 / spec.rate
        tasks: set[asyncio.Task] = set()

        async def one(intended: float) -> None:
            nonlocal late
            conn = await free.get()  # queueing for a connection counts as latency
            if time.monotonic() - intended > 0.005:
                late += 1
            conn, status, t_from = await send(conn, intended)
            record(status, t_from, time.monotonic())
            free.put_nowait(conn)

        i = 0
        while True:
            intended = t_start + i * interval
            if intended >= win_hi:
                break
            delay = intended - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(intended))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        if tasks:  # let in-flight requests finish (those ending after the window are not counted)
            await asyncio.wait(tasks, timeout=30)

    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "status_counts": status_counts,
        "latencies": latencies.tobytes(),
        "send_times": send_times.tobytes(),
        "cpu": cpu,
        "late": late,
        "error_sample": body_sample[0].decode("latin-1") if body_sample else None,
    }


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover
        return asyncio.new_event_loop()


def _run_process(spec: _Spec) -> dict[str, Any]:
    loop = _new_loop()
    try:
        return loop.run_until_complete(_run_process_async(spec))
    finally:
        loop.close()


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run(
    host: str,
    port: int,
    templates: list[Template],
    *,
    connections: int = 32,
    duration: float = 5.0,
    warmup: float = 0.5,
    rate: float | None = None,
    processes: int = 1,
    tag: str | None = None,
    in_process: bool = False,
) -> LoadResult:
    """Drive load at ``host:port``; ``rate`` (requests/s) selects open loop, None closed loop.

    ``processes`` > 1 splits connections (and rate) across that many client processes; with
    ``in_process`` (one process only) the loop runs in this process (tests).
    """
    if processes < 1 or connections < processes:
        raise ValueError("need processes >= 1 and connections >= processes")
    tag = tag or new_tag()
    if len(tag) != 4:
        raise ValueError("tag must be 4 characters")
    conns = _split(connections, processes)
    start_at = time.monotonic() + (0.05 if in_process else 0.6)
    specs = [
        _Spec(
            host,
            port,
            templates,
            conns[p],
            duration,
            0.0 if rate is not None else warmup,
            None if rate is None else rate / processes,
            tag,
            p,
            start_at,
        )
        for p in range(processes)
    ]
    if in_process:
        if processes != 1:
            raise ValueError("in_process needs processes=1")
        outs = [_run_process(specs[0])]
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(processes) as pool:
            outs = pool.map(_run_process, specs)
    result = LoadResult(
        mode="closed" if rate is None else "open",
        tag=tag,
        duration=duration,
        processes=processes,
        connections=connections,
        events_per_request=templates[0].events,
        target_rate=rate,
    )
    for p, out in enumerate(outs):
        for status, n in out["status_counts"].items():
            result.status_counts[status] = result.status_counts.get(status, 0) + n
        lat = array("d")
        lat.frombytes(out["latencies"])
        result.latencies_ms.extend(lat)
        st = array("d")
        st.frombytes(out["send_times"])
        result.send_times[p] = st
        result.client_cpu_s += out["cpu"]
        result.late_sends += out["late"]
        result.error_sample = result.error_sample or out["error_sample"]
    result.requests = sum(result.status_counts.values())
    result.ok = result.status_counts.get(200, 0)
    return result


def cpu_count() -> int:
    return os.cpu_count() or 1
