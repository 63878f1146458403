"""``python -m bench.profile_collector OUT.prof --host H --port P``: the collector under cProfile.

uvicorn re-raises SIGTERM after its graceful shutdown (so ``python -m cProfile`` never writes its
file): this wrapper dumps the profile from its own SIGTERM handler, which uvicorn restores before
re-raising. cProfile sees the main thread only (the event loop: parsing, validation, WAL); the
flusher thread's share shows in ``Server.cpu_split``.
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    profiler = cProfile.Profile()

    def dump(*_args: object) -> None:
        profiler.disable()
        profiler.dump_stats(out)
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    signal.signal(signal.SIGINT, dump)
    from lake.collector.__main__ import main as collector_main

    profiler.enable()
    collector_main(argv)
    dump()


if __name__ == "__main__":
    main()
