"""Run the collector with uvicorn (uvloop + httptools, one worker: the WAL has one writer)."""

from __future__ import annotations

import uvicorn

from lake.collector.app import create_app
from pulse.settings import Settings


def run(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM; shutdown flushes the WAL to Delta before returning."""
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.collector_port,
        loop="uvloop",
        http="httptools",
        workers=1,
        lifespan="on",
        access_log=False,
        log_level="info",
        timeout_graceful_shutdown=30,
    )
