"""Real receivers for alert delivery tests: an SMTP server (aiosmtpd) and an HTTP server
(http.server in a thread) that plays Slack's incoming webhook and a generic webhook, both on
127.0.0.1 with free ports. Import the fixtures into a test module to use them."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    subject: str
    body: str


@dataclass
class SmtpServer:
    port: int
    messages: list[Mail] = field(default_factory=list)


@dataclass
class Posted:
    path: str
    content_type: str
    body: dict


@dataclass
class HttpReceiver:
    port: int
    requests: list[Posted] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)  # path -> status to answer (default 200)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def posted_to(self, path: str) -> list[dict]:
        return [r.body for r in self.requests if r.path == path]


@pytest.fixture(scope="module")
def smtp_server():
    from aiosmtpd.controller import Controller

    server = SmtpServer(port=free_port())

    class Handler:
        async def handle_DATA(self, smtp, session, envelope):
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            server.messages.append(
                Mail(
                    sender=envelope.mail_from,
                    recipients=list(envelope.rcpt_tos),
                    subject=str(parsed["Subject"]),
                    body=parsed.get_content(),
                )
            )
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=server.port)
    controller.start()
    yield server
    controller.stop()


@pytest.fixture(scope="module")
def http_receiver():
    receiver = HttpReceiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            status = receiver.status.get(self.path, 200)
            if status < 300:
                receiver.requests.append(
                    Posted(self.path, self.headers.get("Content-Type", ""), json.loads(body))
                )
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"invalid_token")

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
