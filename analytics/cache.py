"""In-process result cache: a thread-safe LRU with an optional time-to-live per entry.

Keys are built by the query layer from the request (metrics, grain, dates, filters, grouping)
and the content fingerprints of the marts the compiled SQL reads in the current publication, so
a new publication misses only where a mart's data changed (see docs/architecture.md). Values
are immutable polars DataFrames. Each process (dashboards, API, report worker) has its own cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0

    @property
    def hit_rate(self) -> float | None:
        total = self.hits + self.misses
        return self.hits / total if total else None


class ResultCache:
    def __init__(
        self,
        max_entries: int = 1024,
        max_rows: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_rows = max_rows  # larger results are not kept (exports stream, they don't cache)
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[Any, float | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                value, expires = entry
                if expires is None or expires > self._clock():
                    self._entries.move_to_end(key)
                    self.stats.hits += 1
                    return value
                del self._entries[key]
            self.stats.misses += 1
            return None

    def put(self, key: Hashable, value: Any, rows: int = 0, ttl: float | None = None) -> None:
        if self.max_entries <= 0 or rows > self.max_rows:
            return
        expires = None if ttl is None else self._clock() + ttl
        with self._lock:
            self._entries[key] = (value, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.stats.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
