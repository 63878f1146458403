"""The no-op baseline for the collector benchmark: the same server stack (Starlette on uvicorn with
uvloop + httptools, one worker, no access log) with ``POST /v1/noop`` that reads the body and
answers like ``/v1/batch`` without doing any work.

``python -m bench.noop_app --host 127.0.0.1 --port P`` serves this stand-alone app. When the
collector's own ``create_app(settings, enable_noop=True)`` exists, ``bench.collector`` uses that
instead (``--collector``): then the baseline also includes the collector's middleware and routing.
"""

from __future__ import annotations

import argparse
import inspect

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_OK = orjson.dumps({"success": True, "accepted": 0, "quarantined": 0})


async def noop(request: Request) -> Response:
    await request.body()
    return Response(_OK, media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def create_noop_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/noop", noop, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def collector_has_noop() -> bool:
    from lake.collector.app import create_app

    return "enable_noop" in inspect.signature(create_app).parameters


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.noop_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--collector", action="store_true", help="serve create_app(settings, enable_noop=True)"
    )
    args = parser.parse_args(argv)
    if args.collector:
        from core.settings import get_settings
        from lake.collector.app import create_app

        app = create_app(get_settings(), enable_noop=True)
    else:
        app = create_noop_app()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        workers=1,
        lifespan="on",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
