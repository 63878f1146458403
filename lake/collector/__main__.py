"""``python -m lake.collector --host 127.0.0.1 --port 8080`` (the ``pulse collector`` CLI calls
:func:`lake.collector.server.run` the same way)."""

from __future__ import annotations

import argparse
import logging

from lake.collector.server import run
from pulse.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m lake.collector")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.collector_port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run(settings, args.host, args.port)


if __name__ == "__main__":
    main()
