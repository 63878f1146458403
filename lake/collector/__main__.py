"""``python -m lake.collector --host 127.0.0.1 --port 8080 [--workers N]`` (the ``pulse collector``
CLI calls :func:`lake.collector.server.run` the same way)."""

from __future__ import annotations

import argparse

from core.settings import get_settings
from lake.collector.server import run


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m lake.collector")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.collector_port)
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the socket"
    )
    parser.add_argument("--enable-noop", action="store_true", help="add POST /v1/noop (benchmarks)")
    args = parser.parse_args(argv)
    run(settings, args.host, args.port, args.workers, enable_noop=args.enable_noop)


if __name__ == "__main__":
    main()
