"""Start, watch and stop Pulse's long-running services (collector, Dagster UI, Streamlit, GX Data
Docs, dbt docs) as child processes bound to 127.0.0.1, with their logs under ``<data>/logs``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_DIR / "dbt_project"
_BIN = Path(sys.executable).parent


class ServiceError(RuntimeError):
    """A service did not start; the message names it and its log file."""


@dataclass
class Service:
    name: str
    url: str
    health_url: str
    process: subprocess.Popen
    log_path: Path

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (graceful: the collector flushes its WAL), then SIGKILL after ``timeout``."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _default_signals() -> None:
    # A process started from a non-interactive shell may inherit ignored SIGINT/SIGTERM
    # (STACK_NOTES): restore the defaults so children can always be stopped.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(settings.subprocess_env())
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    env.update(extra)
    return env


def start(settings: Settings, name: str, args: list[str], url: str, health_url: str) -> Service:
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    log = log_path.open("ab")
    process = subprocess.Popen(
        args,
        cwd=PROJECT_DIR,
        env=child_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_default_signals,
    )
    log.close()
    return Service(name, url, health_url, process, log_path)


def wait_healthy(service: Service, timeout: float) -> float:
    """Poll the service's health URL; return seconds waited or raise with the log's tail."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if service.process.poll() is not None:
            break
        try:
            if httpx.get(service.health_url, timeout=2.0).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    tail = service.log_path.read_text(errors="replace")[-2000:]
    service.stop()
    raise ServiceError(
        f"{service.name} did not become healthy within {timeout:.0f}s "
        f"(log: {service.log_path}):\n{tail}"
    )


def start_collector(settings: Settings) -> Service:
    host, port = settings.host, settings.collector_port
    return start(
        settings,
        "collector",
        [sys.executable, "-m", "lake.collector", "--host", host, "--port", str(port)],
        f"http://{host}:{port}",
        f"http://{host}:{port}/health",
    )


def start_dagster(settings: Settings) -> Service:
    host, port = settings.host, settings.dagster_port
    return start(
        settings,
        "dagster",
        [
            str(_BIN / "dagster"),
            "dev",
            "-w",
            str(PROJECT_DIR / "workspace.yaml"),
            "-h",
            host,
            "-p",
            str(port),
        ],
        f"http://{host}:{port}",
        f"http://{host}:{port}/server_info",
    )


def start_streamlit(settings: Settings) -> Service:
    host, port = settings.host, settings.streamlit_port
    return start(
        settings,
        "streamlit",
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(PROJECT_DIR / "apps" / "streamlit" / "app.py"),
            "--server.address",
            host,
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--client.toolbarMode",
            "viewer",
        ],
        f"http://{host}:{port}",
        f"http://{host}:{port}/_stcore/health",
    )


def start_data_docs(settings: Settings) -> Service:
    """The Great Expectations Data Docs: a static site, rebuilt by every GX check run, served as
    files (the page shows the newest build on reload)."""
    host, port = settings.host, settings.data_docs_port
    site = settings.data_docs_dir
    site.mkdir(parents=True, exist_ok=True)
    return start(
        settings,
        "data_docs",
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            host,
            "--directory",
            str(site),
        ],
        f"http://{host}:{port}/index.html",
        f"http://{host}:{port}/",
    )


@contextlib.contextmanager
def running(services: list[Service]) -> Iterator[list[Service]]:
    try:
        yield services
    finally:
        for service in reversed(services):
            service.stop()


def wait_until_interrupted(services: list[Service]) -> None:
    """Block until Ctrl-C / SIGTERM, or until a service exits on its own (then say so)."""
    stop = False

    def _stop(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stop:
        for service in services:
            if service.process.poll() is not None:
                print(
                    f"{service.name} exited with {service.process.returncode}; "
                    f"see {service.log_path}",
                    flush=True,
                )
                return
        time.sleep(0.5)
    print("\nstopping services ...", flush=True)


def register_dashboard_usage(settings: Settings) -> None:
    """The dashboards' own source (idempotent) and a fresh snapshot of their accounts, so the
    Adoption page counts everyone who can sign in (docs/dashboards.md, "Adoption")."""
    from lake.dashboard_accounts import land_dashboard_accounts
    from lake.internal_source import ensure_dashboards_source

    ensure_dashboards_source(settings)
    land_dashboard_accounts(settings)


def serve_all(settings: Settings, dashboard_sign_in: str | None = None) -> None:
    """Serve the collector, Dagster UI, Streamlit and the GX Data Docs until interrupted.
    ``dashboard_sign_in`` is printed beside the dashboards' URL (the demo's admin)."""
    starters = [
        ("Dagster UI", start_dagster, 180),
        ("Streamlit", start_streamlit, 60),
        ("Collector", start_collector, 30),
        ("Data Docs", start_data_docs, 30),
    ]
    services = [starter(settings) for _, starter, _ in starters]
    with running(services):
        for (label, _, timeout), service in zip(starters, services, strict=True):
            waited = wait_healthy(service, timeout)
            print(
                f"  {label:<11} {service.url}   (ready in {waited:.1f}s, log {service.log_path})",
                flush=True,
            )
            if label == "Streamlit" and dashboard_sign_in:
                print(f"  {'':<11} {dashboard_sign_in}", flush=True)
        print("Pulse is serving. Press Ctrl-C to stop.", flush=True)
        wait_until_interrupted(services)


def dbt_command(settings: Settings, *args: str) -> list[str]:
    return [
        str(_BIN / "dbt"),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]


def build_and_serve_dbt_docs(settings: Settings, serve: bool = True) -> None:
    """``dbt docs generate`` (needs the warehouse's write lock: run it while no dbt run is
    active), then serve the static site on PULSE_DOCS_PORT."""
    from deltalake import DeltaTable

    events = settings.table_path("bronze", "events")
    if not DeltaTable.is_deltatable(str(events)):
        raise ServiceError(
            f"the docs catalog is read from the warehouse, and there is no lake yet ({events} is "
            "not a Delta table): run `make demo` (or `pulse demo --no-serve`) first"
        )
    env = child_env(settings)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(dbt_command(settings, "docs", "generate"), cwd=PROJECT_DIR, env=env, check=True)
    print(f"dbt docs built in {DBT_PROJECT_DIR / 'target'}", flush=True)
    if not serve:
        return
    url = f"http://{settings.host}:{settings.docs_port}"
    print(f"  dbt docs    {url}   (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(
            dbt_command(
                settings,
                "docs",
                "serve",
                "--host",
                settings.host,
                "--port",
                str(settings.docs_port),
                "--no-browser",
            ),
            cwd=PROJECT_DIR,
            env=env,
            check=False,
            preexec_fn=_default_signals,
        )
