"""The load generator's bookkeeping, against a tiny in-process HTTP server (a few seconds)."""

from __future__ import annotations

import asyncio
import threading
import time

import orjson
import pytest

from bench import loadgen

MESSAGES = [
    {"type": "track", "event": "Workout Completed", "userId": f"u{i}", "properties": {"n": i}}
    for i in range(250)
]


class TinyServer:
    """Keep-alive HTTP/1.1 server: 200 (every ``fail_every``-th request 503); can stall once."""

    def __init__(self, fail_every: int = 0, stall_at: int = -1, stall_s: float = 0.0) -> None:
        self.fail_every = fail_every
        self.stall_at = stall_at
        self.stall_s = stall_s
        self.requests = 0
        self.message_ids: list[str] = []
        self.port = 0
        self._resume_at = 0.0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests += 1
                n = self.requests
                self.message_ids += [m["messageId"] for m in orjson.loads(body)["batch"]]
                if n == self.stall_at:
                    self._resume_at = time.monotonic() + self.stall_s
                wait = self._resume_at - time.monotonic()
                if wait > 0:  # the whole server stalls (e.g. a GC pause or a GIL-bound flush)
                    await asyncio.sleep(wait)
                status = (
                    b"503 Service Unavailable"
                    if self.fail_every and n % self.fail_every == 0
                    else b"200 OK"
                )
                payload = b'{"success":true}'
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n" % len(payload) + payload
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> TinyServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    async def _shutdown(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)


def _templates(port: int, batch: int = 10) -> list[loadgen.Template]:
    return loadgen.make_templates(
        MESSAGES, host="127.0.0.1", port=port, path="/v1/batch", write_key="k", batch_size=batch
    )


def test_templates_render_unique_message_ids_with_constant_length() -> None:
    t = _templates(8080)
    assert len(t) == 25
    a, b = t[0].render(b"abcd000000000001"), t[0].render(b"abcd000000000002")
    assert len(a) == len(b)
    body = orjson.loads(a.split(b"\r\n\r\n", 1)[1])
    ids = [m["messageId"] for m in body["batch"]]
    assert len(set(ids)) == 10
    assert loadgen.parse_message_id(ids[3]) == ("abcd", 0, 1)
    assert loadgen.parse_message_id("not-ours") is None


def test_closed_loop_counts_every_response() -> None:
    with TinyServer(fail_every=7) as server:
        result = loadgen.run(
            "127.0.0.1",
            server.port,
            _templates(server.port),
            connections=4,
            duration=1.5,
            warmup=0.0,
            in_process=True,
        )
    assert result.requests > 100
    # only requests that complete after the window closes are not counted (≤ one per connection)
    assert server.requests - 4 <= result.requests <= server.requests
    assert sum(result.status_counts.values()) == result.requests
    assert set(result.status_counts) == {200, 503}
    assert result.status_counts[503] == pytest.approx(result.requests / 7, abs=3)
    assert len(result.latencies_ms) == result.requests
    assert min(result.latencies_ms) >= 0
    assert len(set(server.message_ids)) == len(server.message_ids)  # unique per send
    assert result.events_per_s == pytest.approx(result.ok * 10 / 1.5)
    # every sent request has a send time, findable from its message ids
    tag, proc, seq = loadgen.parse_message_id(server.message_ids[-1])
    assert tag == result.tag and result.send_time(proc, seq) is not None


def test_open_loop_holds_the_rate_and_charges_stalls_to_latency() -> None:
    rate, seconds = 100.0, 2.0
    with TinyServer(stall_at=50, stall_s=0.3) as server:
        result = loadgen.run(
            "127.0.0.1",
            server.port,
            _templates(server.port),
            connections=2,
            duration=seconds,
            rate=rate,
            in_process=True,
        )
    assert result.mode == "open"
    assert result.requests == pytest.approx(rate * seconds, rel=0.05)
    assert result.status_counts == {200: result.requests}
    assert min(result.latencies_ms) >= 0
    # a 300 ms server stall at 100 req/s delays ~30 requests, measured from their intended
    # send time (a closed-loop client would have seen only the 2 requests in flight)
    slow = [v for v in result.latencies_ms if v >= 100]
    assert len(slow) >= 10
    assert max(result.latencies_ms) >= 280
    assert result.late_sends >= 10
