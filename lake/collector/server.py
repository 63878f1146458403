"""Run the collector with uvicorn (uvloop + httptools), in one process or in N workers.

One process has one WAL writer. ``workers > 1``: the parent binds the socket once and starts N
worker processes (spawned, not forked: delta-rs runs threads) that all accept on it; worker ``n``
gets collector id ``<collector_id>-<n>``, so each has its own WAL and its own Delta app
transactions, and all append to the same lake (as replicas behind a load balancer would). The
parent forwards SIGTERM/SIGINT (each worker flushes its WAL) and restarts a worker that dies (its
WAL is replayed by the new one).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from typing import Any

import uvicorn

from core.settings import Settings
from lake.collector import logs
from lake.collector.app import create_app

log = logging.getLogger("lake.collector.server")


def _config(settings: Settings, host: str, port: int, enable_noop: bool) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings, enable_noop=enable_noop),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        proxy_headers=False,  # X-Forwarded-For is trusted only via trusted_proxy_hops
        server_header=False,
        timeout_graceful_shutdown=30,
        backlog=4096,
    )


def run(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    workers: int = 1,
    *,
    enable_noop: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM; shutdown flushes every WAL to Delta before returning."""
    logs.configure()
    host = host or settings.host
    port = port or settings.collector_port
    if workers <= 1:
        uvicorn.Server(_config(settings, host, port, enable_noop)).run()
        return
    _supervise(settings, host, port, workers, enable_noop)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def _worker(
    settings_data: dict[str, Any], n: int, sock: socket.socket, host: str, port: int, noop: bool
) -> None:
    logs.configure()
    base = Settings.model_validate(settings_data)
    settings = base.model_copy(update={"collector_id": f"{base.collector_id}-{n}"})
    server = uvicorn.Server(_config(settings, host, port, noop))
    server.run(sockets=[sock])


def _supervise(settings: Settings, host: str, port: int, workers: int, noop: bool) -> None:
    sock = _bind(host, port)
    ctx = multiprocessing.get_context("spawn")
    data = settings.model_dump(mode="json")
    stopping = False

    def spawn(n: int) -> multiprocessing.process.BaseProcess:
        proc = ctx.Process(
            target=_worker, args=(data, n, sock, host, port, noop), name=f"collector-{n}"
        )
        proc.start()
        return proc

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    procs = {n: spawn(n) for n in range(workers)}
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "collector_supervisor_started",
        extra={"fields": {"workers": workers, "pids": [p.pid for p in procs.values()]}},
    )
    try:
        while not stopping:
            time.sleep(0.2)
            for n, proc in list(procs.items()):
                if not proc.is_alive() and not stopping:
                    log.error(
                        "collector_worker_died",
                        extra={"fields": {"worker": n, "exitcode": proc.exitcode}},
                    )
                    procs[n] = spawn(n)
    finally:
        for proc in procs.values():
            if proc.is_alive() and proc.pid is not None:
                proc.terminate()  # SIGTERM: uvicorn's graceful shutdown flushes the WAL
        for proc in procs.values():
            proc.join(timeout=60)
        sock.close()
        log.info("collector_supervisor_stopped", extra={"fields": {"workers": workers}})
