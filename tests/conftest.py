"""Shared fixtures: every test gets its own PULSE_DATA_DIR, never the developer's ./data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from core.settings import Settings, get_settings

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pulse_settings(tmp_path, monkeypatch) -> Settings:
    """Settings whose data dir is a fresh temporary directory (env var set for children too)."""
    monkeypatch.setenv("PULSE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


# ---- one demo run shared by the end-to-end and metric-correctness suites --------------------------
# The user's path (`pulse demo --no-serve` in a subprocess) takes minutes; both suites read the same
# world, so it runs once per session. Fixed dates: the world is the same on every run.
DEMO_USERS = 300
DEMO_DAYS = 45
DEMO_SEED = 3
DEMO_END_DATE = date(2026, 3, 1)  # exclusive: the world covers [DEMO_END_DATE - DEMO_DAYS, ...)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A TCP port nobody listens on right now, on 127.0.0.1."""
    return _free_port()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[Path, str]:
    """``pulse demo --no-serve`` once: (its data dir, its stdout).

    ``PULSE_DEMO_TEST_DATA_DIR`` reuses a data dir already built by that same command with the
    arguments above (for iterating on marts or tests without re-running the demo); stdout is then
    empty."""
    reuse = os.environ.get("PULSE_DEMO_TEST_DATA_DIR")
    if reuse:
        return Path(reuse), ""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    env = {
        **os.environ,
        "PULSE_DATA_DIR": str(data_dir),
        "PULSE_COLLECTOR_PORT": str(_free_port()),
        "PULSE_FLUSH_INTERVAL_SECONDS": "1",
    }
    args = ["--users", str(DEMO_USERS), "--days", str(DEMO_DAYS), "--seed", str(DEMO_SEED)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pulse.cli",
            "demo",
            "--no-serve",
            *args,
            "--end-date",
            str(DEMO_END_DATE),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return data_dir, result.stdout


@pytest.fixture(scope="module")
def demo_settings(demo_run) -> Settings:
    """Settings pointing at the shared demo's data dir (the environment too, for children)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULSE_DATA_DIR", str(demo_run[0]))
        get_settings.cache_clear()
        yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own on the PostgreSQL server at 127.0.0.1 (the production path of the
    app metadata database), dropped afterwards; fails, saying so, when the server is down."""
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # the server is part of the machine; say clearly if it is down
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc}); see STACK_NOTES")
    name = f"pulse_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'drop database "{name}" with (force)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def metadata_engine(request, tmp_path):
    """The app metadata database's engine, once on SQLite (the embedded default) and once on
    PostgreSQL (production): the same code must pass on both."""
    from core.metadata import engine_for

    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path)
    else:
        settings = Settings(data_dir=tmp_path, metadata_url=request.getfixturevalue("postgres_url"))
    engine = engine_for(settings)
    assert engine.dialect.name == request.param
    yield engine
    engine.dispose()
