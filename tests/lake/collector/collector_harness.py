"""Real collector processes for tests: ``python -m lake.collector`` with its own data dir."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import polars as pl

from core.metadata import engine_for
from core.settings import Settings
from lake.sources import create_source

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def basic(key: str, colon: bool = True) -> dict[str, str]:
    token = base64.b64encode(f"{key}{':' if colon else ''}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def new_source(data_dir: Path, name: str, **source_settings) -> str:
    _, key = create_source(engine_for(Settings(data_dir=data_dir)), name, source_settings or None)
    return key


@dataclass
class Collector:
    data_dir: Path
    collector_id: str = "t"
    env_extra: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"collector-{self.collector_id}.log"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PULSE_DATA_DIR": str(self.data_dir),
            "PULSE_COLLECTOR_ID": self.collector_id,
            "PULSE_FLUSH_INTERVAL_SECONDS": "0.3",
            **self.env_extra,
        }

    def start(self, timeout: float = 30.0) -> Collector:
        cmd = [sys.executable, "-m", "lake.collector", "--port", str(self.port)]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=self.log_path.open("ab"),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            try:
                if httpx.get(self.url + "/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("collector did not start: " + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        """SIGTERM: graceful shutdown flushes the WAL to Delta."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=60) in (0, -signal.SIGTERM)
        self.proc = None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None

    def log_lines(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out


def table(data_dir: Path, name: str) -> pl.DataFrame:
    return pl.read_delta(str(data_dir / "lake" / "bronze" / name))


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (result := predicate()) is not None and result is not False:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def track(mid: str, properties: dict | None = None, **extra) -> dict:
    """A valid ``Feature Used`` track message (its schema requires ``feature``)."""
    props = {"feature": "search", **(properties or {})}
    msg = {"type": "track", "event": "Feature Used", "userId": "u1", "messageId": mid}
    return {**msg, "properties": props, **extra}


def metric(text: str, name: str, **labels: str) -> float:
    """Value of one sample in Prometheus text (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    head = f"{name}{{{want}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(head + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
