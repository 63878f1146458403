"""Fixtures of the dashboard tests: Chromium, a Streamlit server, screenshots, a collector.

API (details in tests/apps/README.md; helpers such as ``open_page`` are in browser_harness.py):

- ``browser`` (session): Playwright's Chromium on Debian's /usr/bin/chromium. The plugin's
  ``page``/``context``/``new_context`` fixtures use it (a fresh context per test).
- ``streamlit_server`` (function): ``streamlit_server(env=None, *, app=..., args=(),
  data_dir=None, timeout=60) -> StreamlitServer``, started and healthy, with the test users
  (``browser_harness.TEST_USERS``) in its metadata database; stopped at teardown.
- ``screenshot`` (function): ``screenshot(page, name, *, full_page=True) -> Path`` under the
  test's output folder (``test-results/<test>/<name>.png``).
- ``collector`` (function): ``collector(env=None, *, sources=("web",)) -> LiveCollector``, a
  real collector process with write keys; stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from browser_harness import (
    APP,
    CHROMIUM,
    CHROMIUM_ARGS,
    MISSING_CHROMIUM,
    StreamlitServer,
    full_page_screenshot,
    streamlit_env,
)
from live_collector import Collector, LiveCollector


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the browser is marked ``browser`` (select with ``-m browser``)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


# Playwright's sync API keeps an asyncio loop running in the main thread while it is started.
# pytest-playwright starts it for the whole session, which breaks every later test that calls
# asyncio.run() (the collector, rate-limit and load-generator tests): here it lives for one test
# module at a time instead (starting it takes well under a second).
@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="module")
def browser_context_args(pytestconfig: pytest.Config, playwright: Any, device, base_url) -> dict:
    """pytest-playwright's context arguments (device, base URL), on the module's Playwright."""
    args: dict[str, Any] = dict(playwright.devices[device]) if device else {}
    if base_url:
        args["base_url"] = base_url
    return args


@pytest.fixture(scope="module")
def browser(playwright: Any, pytestconfig: pytest.Config) -> Iterator[Any]:
    """Chromium from /usr/bin/chromium (``--headed`` and ``--slowmo`` of pytest-playwright
    apply). Fails, with what to do, when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=list(CHROMIUM_ARGS),
        headless=not pytestconfig.getoption("--headed"),
        slow_mo=pytestconfig.getoption("--slowmo") or 0,
    )
    yield browser
    browser.close()


@pytest.fixture
def streamlit_server(tmp_path: Path) -> Iterator[Callable[..., StreamlitServer]]:
    """Start ``streamlit run apps/streamlit/app.py`` (or ``app``) on a free 127.0.0.1 port.

    ``env``: PULSE_* settings for the app (the developer's own PULSE_* are dropped);
    ``PULSE_DATA_DIR`` defaults to ``data_dir`` or a fresh temporary folder. The server's output
    is in ``server.log_path`` (``server.logs()``). Every server started is stopped at teardown
    (SIGTERM, then SIGKILL after 10 s)."""
    servers: list[StreamlitServer] = []

    def start(
        env: Mapping[str, str] | None = None,
        *,
        app: Path = APP,
        args: Sequence[str] = (),
        data_dir: Path | None = None,
        timeout: float = 60.0,
    ) -> StreamlitServer:
        n = len(servers)
        server = StreamlitServer(
            streamlit_env(data_dir or tmp_path / "data", env),
            app=app,
            args=args,
            log_path=tmp_path / f"streamlit-{n}.log",
        )
        servers.append(server)
        return server.start(timeout)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def screenshot(output_path: str) -> Callable[..., Path]:
    """``screenshot(page, name, full_page=True)``: a PNG in the test's output folder
    (``test-results/<test id>/<name>.png``, emptied at the start of each pytest session)."""

    def take(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = Path(output_path) / f"{name}.png"
        if full_page:
            return full_page_screenshot(page, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
        return path

    return take


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Callable[..., LiveCollector]]:
    """Start a real collector (``python -m lake.collector``) on a free port with a data dir of
    its own (``tmp_path/collector-data`` unless ``data_dir``) and one write key per name in
    ``sources``. ``env``: extra PULSE_* settings (e.g. PULSE_LIVE_TOKEN). Stopped at teardown."""
    started: list[LiveCollector] = []

    def start(
        env: Mapping[str, str] | None = None,
        *,
        sources: Sequence[str] = ("web",),
        data_dir: Path | None = None,
        collector_id: str = "live-test",
    ) -> LiveCollector:
        data = data_dir or tmp_path / "collector-data"
        data.mkdir(parents=True, exist_ok=True)
        process = Collector(data, collector_id=collector_id, env_extra=dict(env or {}))
        live = LiveCollector(process)
        for name in sources:
            live.add_source(name)
        started.append(live)
        return live.start()

    yield start
    for live in started:
        if live.process.proc is not None:
            live.process.proc.kill()
            live.process.proc.wait(10)
