"""send_http against a tiny in-test HTTP server that records what it receives."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from lake.simulator import send_http


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with server.lock:
            server.calls += 1
            fail = server.fail_first > 0
            if fail:
                server.fail_first -= 1
        if fail:
            self.send_response(server.fail_status)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        with server.lock:
            server.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"success": true}')

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    srv.lock = threading.Lock()
    srv.requests = []
    srv.calls = 0
    srv.fail_first = 0
    srv.fail_status = 503
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(srv: ThreadingHTTPServer) -> str:
    host, port = srv.server_address[:2]
    return f"http://{host}:{port}"


def _messages(n: int) -> list[dict]:
    return [
        {
            "messageId": f"m-{i}",
            "type": "track",
            "event": "App Opened",
            "userId": "u1",
            "timestamp": "2025-01-01T00:00:00.000Z",
        }
        for i in range(n)
    ]


def test_send_http_batches_with_basic_auth_and_sent_at(server):
    msgs = _messages(250)
    before = datetime.now(UTC) - timedelta(seconds=1)
    report = send_http(msgs, url=_url(server), write_key="wk_test", batch_size=100)
    assert (report.sent, report.batches, report.http_errors, report.failed_batches) == (
        250,
        3,
        0,
        0,
    )
    assert [r["path"] for r in server.requests] == ["/v1/batch"] * 3
    expected = "Basic " + base64.b64encode(b"wk_test:").decode()
    assert {r["auth"] for r in server.requests} == {expected}
    bodies = [orjson.loads(r["body"]) for r in server.requests]
    assert [len(b["batch"]) for b in bodies] == [100, 100, 50]
    assert [m["messageId"] for b in bodies for m in b["batch"]] == [m["messageId"] for m in msgs]
    for body in bodies:
        sent_at = datetime.fromisoformat(body["sentAt"].replace("Z", "+00:00"))
        assert sent_at >= before and body["sentAt"].endswith("Z")
        assert {m["sentAt"] for m in body["batch"]} == {body["sentAt"]}
    assert "sentAt" not in msgs[0]  # the caller's dicts are not modified


def test_send_http_retries_503_and_429_then_succeeds(server):
    server.fail_first = 2
    report = send_http(_messages(10), url=_url(server), write_key="k", batch_size=5, backoff=0.01)
    assert report.sent == 10 and report.http_errors == 2 and report.retries == 2
    assert report.failed_batches == 0 and server.calls == 4
    server.fail_first, server.fail_status = 1, 429
    report = send_http(_messages(3), url=_url(server), write_key="k", backoff=0.01)
    assert report.sent == 3 and report.status_counts == {429: 1, 200: 1}


def test_send_http_gives_up_after_max_retries_and_counts_failures(server):
    server.fail_first = 100
    report = send_http(
        _messages(4), url=_url(server), write_key="k", batch_size=2, max_retries=1, backoff=0.01
    )
    assert report.sent == 0 and report.failed_batches == 2 and report.failed_messages == 4
    assert report.http_errors == 4 and not report.ok


def test_send_http_with_threads_sends_everything_once(server):
    report = send_http(
        _messages(1000), url=_url(server), write_key="k", batch_size=50, concurrency=4
    )
    assert report.sent == 1000 and report.batches == 20
    ids = [m["messageId"] for r in server.requests for m in orjson.loads(r["body"])["batch"]]
    assert sorted(ids) == sorted(f"m-{i}" for i in range(1000))


def test_send_http_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        send_http([], batch_size=0)
