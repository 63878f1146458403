"""A real collector process (``python -m lake.collector``, from tests/lake/collector's harness)
with write keys, for tests of what the dashboards show live. The ``collector`` fixture in
``tests/apps/conftest.py`` starts one; this module is what it returns."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.metadata import engine_for
from core.settings import Settings
from lake.sources import create_source


def _harness() -> Any:
    """tests/lake/collector/collector_harness.py (not a package: loaded by path, once)."""
    if "collector_harness" in sys.modules:
        return sys.modules["collector_harness"]
    path = Path(__file__).resolve().parents[1] / "lake" / "collector" / "collector_harness.py"
    spec = importlib.util.spec_from_file_location("collector_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["collector_harness"] = module
    spec.loader.exec_module(module)
    return module


harness = _harness()
Collector = harness.Collector
basic = harness.basic


@dataclass
class LiveCollector:
    """A started collector on 127.0.0.1 and its sources (``name → write key / source_id``)."""

    process: Any  # collector_harness.Collector
    write_keys: dict[str, str] = field(default_factory=dict)
    source_ids: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def data_dir(self) -> Path:
        return self.process.data_dir

    def add_source(self, name: str) -> str:
        """Create a source; returns its source_id."""
        source, key = create_source(engine_for(Settings(data_dir=self.data_dir)), name)
        self.write_keys[name] = key
        self.source_ids[name] = source.source_id
        return source.source_id

    def send(self, messages: list[dict[str, Any]], *, source: str | None = None) -> dict[str, Any]:
        """POST /v1/batch with the source's write key (the first source by default); the
        collector's answer, which must be a 200 accepting every message."""
        key = self.write_keys[source or next(iter(self.write_keys))]
        response = httpx.post(
            f"{self.url}/v1/batch", json={"batch": messages}, headers=basic(key), timeout=10
        )
        response.raise_for_status()
        body = response.json()
        assert body["accepted"] == len(messages), body
        return body

    def track(
        self,
        event: str,
        n: int = 1,
        *,
        source: str | None = None,
        user_id: str = "u1",
        **props: Any,
    ) -> list[str]:
        """Send ``n`` track events named ``event``; returns their message ids."""
        ids = [f"t-{uuid.uuid4().hex[:12]}" for _ in range(n)]
        messages = [
            {
                "type": "track",
                "event": event,
                "userId": user_id,
                "messageId": mid,
                "properties": props,
            }
            for mid in ids
        ]
        self.send(messages, source=source)
        return ids

    def kill(self) -> None:
        """SIGKILL: the crash case (no graceful close of live streams)."""
        self.process.kill()

    def stop(self) -> None:
        """SIGTERM: graceful shutdown (closes live streams, flushes the WAL)."""
        self.process.stop()

    def start(self) -> LiveCollector:
        """(Re)start on the same port and data dir; returns when /health answers."""
        self.process.start()
        return self
