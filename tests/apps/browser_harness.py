"""Real-browser testing of the Streamlit dashboards: a ``streamlit run`` process, Debian's
Chromium driven by Playwright, and the checks every page needs.

The fixtures (``browser``, ``streamlit_server``, ``screenshot``, ``collector``) are in
``tests/apps/conftest.py``; the helpers are plain functions here, imported by the tests. Every
server gets the test users (:data:`TEST_USERS`: test-viewer, test-analyst, test-admin) in its
metadata database before it starts, and :func:`open_page` signs in as test-admin unless told
otherwise (``user="viewer"``, or ``user=None`` to stay signed out)::

    from browser_harness import DESKTOP, PHONE, assert_no_horizontal_scroll, open_page

    def test_my_page(page, streamlit_server, screenshot):
        server = streamlit_server({"PULSE_DATA_DIR": str(data_dir)})
        watch = open_page(page, server.url_for("my-page"), viewport=PHONE)
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("1,204")
        assert_no_horizontal_scroll(page)
        screenshot(page, "my-page-phone")
        watch.assert_clean()  # no console errors, page errors or Streamlit exceptions

See "Browser tests" in tests/apps/README.md for the whole API and the conventions.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "apps" / "streamlit" / "app.py"

CHROMIUM = Path("/usr/bin/chromium")
# Playwright adds --headless itself (unless --headed); the rest are the flags that work here.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
MISSING_CHROMIUM = (
    f"Browser tests need Debian's Chromium at {CHROMIUM} (Playwright's own browser download does "
    "not work here): run `make install`, which installs it (apt-get install -y chromium)."
)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

STREAMLIT_ARGS = (
    "--server.headless",
    "true",
    "--browser.gatherUsageStats",
    "false",
    "--server.fileWatcherType",
    "none",  # no polling of the source tree: it costs CPU and never matters in a test
    "--client.toolbarMode",
    "viewer",  # as `pulse serve` runs it
)


# ---- test users ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestUser:
    """A dashboard user every test server has (created through core.accounts)."""

    __test__ = False  # not a pytest test class

    name: str
    role: str
    password: str


TEST_USERS: dict[str, TestUser] = {
    role: TestUser(f"test-{role}", role, f"{role}-password-for-tests")
    for role in ("viewer", "analyst", "admin")
}


def create_test_users(env: Mapping[str, str]) -> None:
    """Create (or reset) :data:`TEST_USERS` in the metadata database a server with ``env``
    uses: ``PULSE_METADATA_URL``, else ``<PULSE_DATA_DIR>/pulse.db``."""
    from core import accounts
    from core.metadata import engine_for
    from core.settings import Settings

    settings = Settings(
        data_dir=Path(env["PULSE_DATA_DIR"]), metadata_url=env.get("PULSE_METADATA_URL")
    )
    engine = engine_for(settings)
    for user in TEST_USERS.values():
        if accounts.get_user(engine, user.name) is None:
            accounts.add_user(engine, user.name, user.role, user.password)
        else:
            accounts.set_role(engine, user.name, user.role)
            accounts.set_password(engine, user.name, user.password)
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the Streamlit server -----------------------------------------------------------------------
@dataclass
class StreamlitServer:
    """A ``streamlit run`` subprocess on 127.0.0.1. ``url`` is its root (the default page)."""

    env: Mapping[str, str]
    app: Path = APP
    args: Sequence[str] = ()
    log_path: Path | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, url_path: str = "", **query: str | Sequence[str]) -> str:
        """The URL of a page by its ``url_path`` (``st.Page(..., url_path=...)``), with query
        parameters (a list value repeats the parameter)."""
        url = f"{self.url}/{url_path.strip('/')}"
        return url + ("?" + urlencode(query, doseq=True) if query else "")

    def start(self, timeout: float = 60.0) -> StreamlitServer:
        create_test_users(self.env)
        cmd = [sys.executable, "-m", "streamlit", "run", str(self.app)]
        cmd += ["--server.address", "127.0.0.1", "--server.port", str(self.port)]
        cmd += [*STREAMLIT_ARGS, *self.args]
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=dict(self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal goes to pytest, not to it
            preexec_fn=_default_signals,  # SIGTERM must stop it even if ours is ignored
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"streamlit exited with {self.proc.returncode} before answering:\n{self.logs()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/_stcore/health", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError(
            f"streamlit did not answer /_stcore/health in {timeout} s:\n{self.logs()}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def logs(self, tail: int = 4000) -> str:
        """The server's output so far (stdout and stderr), its last ``tail`` characters."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-tail:]


def _default_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def streamlit_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the developer's ``PULSE_*`` settings, with
    ``PULSE_DATA_DIR`` and ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env.update(
        {
            "PULSE_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
            "DO_NOT_TRACK": "1",
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }
    )
    env.update(extra or {})
    return env


@contextlib.contextmanager
def run_streamlit(
    env: Mapping[str, str],
    *,
    app: Path = APP,
    args: Sequence[str] = (),
    log_path: Path | None = None,
    timeout: float = 60.0,
) -> Iterator[StreamlitServer]:
    """A started :class:`StreamlitServer`, stopped on exit (for module-scoped fixtures)."""
    server = StreamlitServer(env, app=app, args=args, log_path=log_path)
    server.start(timeout)
    try:
        yield server
    finally:
        server.stop()


# ---- a page in the browser ----------------------------------------------------------------------
# "Finished": connected, the script not running, no skeleton left (Streamlit's own e2e tests wait
# the same way). Pages with st.fragment(run_every=...) flip between running and idle: this waits
# for an idle moment; assert on their content with auto-retrying expect(...).
_READY_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stSkeleton"]');
}"""


# Console errors that are Streamlit's normal behaviour, not a fault of the page: opened at a
# page's own URL (/live), the frontend first probes /live/_stcore/health and
# /live/_stcore/host-config for a base path, gets 404s, then uses /_stcore/.
IGNORED_CONSOLE_ERRORS = (
    re.compile(r"404 \(Not Found\) \(https?://[^/]+/.+/_stcore/(health|host-config)\)$"),
)


@dataclass
class PageWatch:
    """What went wrong in a page while a test used it (collected from the moment
    :func:`open_page` first saw the page)."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    ignored: list[re.Pattern[str]] = field(default_factory=lambda: list(IGNORED_CONSOLE_ERRORS))

    def ignore(self, pattern: str) -> None:
        """Also ignore console errors matching ``pattern`` (a regex searched in
        ``"<text> (<url>)"``): say in the test why it is expected."""
        self.ignored.append(re.compile(pattern))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.console_errors.append(f"{message.text} ({where})" if where else message.text)

    def unexpected_console_errors(self) -> list[str]:
        return [e for e in self.console_errors if not any(p.search(e) for p in self.ignored)]

    def _on_page_error(self, error: Exception) -> None:
        self.page_errors.append(str(error))

    def streamlit_exceptions(self) -> list[str]:
        """The text of every ``st.exception`` box (an uncaught exception in the page) now."""
        return [e.inner_text() for e in self.page.get_by_test_id("stException").all()]

    def problems(self) -> list[str]:
        return (
            [f"console error: {e}" for e in self.unexpected_console_errors()]
            + [f"page error: {e}" for e in self.page_errors]
            + [f"Streamlit exception: {e}" for e in self.streamlit_exceptions()]
        )

    def assert_clean(self) -> None:
        """No browser console error, no uncaught page error, no Streamlit exception shown."""
        problems = self.problems()
        assert not problems, "the page had problems:\n" + "\n".join(problems)


def watch(page: Page) -> PageWatch:
    """The page's :class:`PageWatch`, attached on first use (listeners are added once)."""
    existing = getattr(page, "_pulse_watch", None)
    if existing is not None:
        return existing
    pw = PageWatch(page)
    page.on("console", pw._on_console)
    page.on("pageerror", pw._on_page_error)
    page._pulse_watch = pw  # type: ignore[attr-defined]
    return pw


def wait_until_ready(page: Page, timeout: float = 30.0) -> None:
    """Wait until the app is connected, its script has finished and no skeleton is left."""
    page.wait_for_function(_READY_JS, timeout=timeout * 1000)


SIGN_IN_FORM = ".st-key-sign_in_card"  # the sign-in screen (apps/streamlit/sign_in.py)
ACCOUNT_MENU = ".st-key-account_bar"  # the signed-in person's menu, top right of every page
SESSION_COOKIE = "pulse_session"

# Session cookies by (server root, username): a fresh browser context gets the cookie instead of
# signing in again (a stale one, e.g. after a restart with a new database, is noticed and
# replaced).
_SESSIONS: dict[tuple[str, str], dict[str, Any]] = {}


def _root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def sign_in(
    page: Page, server_url: str, username: str, password: str, *, timeout: float = 30.0
) -> None:
    """Open the app at ``server_url``, fill in the sign-in form and wait until the pages show
    (and the session cookie is set). Fails with the form's message when it refuses."""
    watch(page)
    page.goto(server_url, wait_until="domcontentloaded", timeout=timeout * 1000)
    wait_until_ready(page, timeout)
    submit_sign_in(page, username, password)
    refused = page.locator(f"{SIGN_IN_FORM} [data-testid='stAlertContentError']")
    signed_in = page.locator(ACCOUNT_MENU)
    expect(signed_in.or_(refused)).to_be_visible(timeout=timeout * 1000)
    if refused.count():
        raise AssertionError(f"sign-in as {username} refused: {refused.first.inner_text()}")
    _wait_for_cookie(page.context, timeout)
    wait_until_ready(page, timeout)


def submit_sign_in(page: Page, username: str, password: str) -> None:
    """Type into the sign-in form and press "Sign in" (no waiting: see :func:`sign_in`)."""
    form = page.locator(SIGN_IN_FORM)
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in").click()


def _wait_for_cookie(context: BrowserContext, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for cookie in context.cookies():
            if cookie["name"] == SESSION_COOKIE and cookie["value"]:
                return dict(cookie)
        time.sleep(0.05)
    raise AssertionError("signed in, but the browser never got the session cookie")


def _ensure_signed_in(page: Page, url: str, user: TestUser, timeout: float) -> None:
    root = _root(url)
    context = page.context
    signed_in_as = getattr(context, "_pulse_signed_in_as", {})
    if signed_in_as.get(root) == user.name:
        return
    cookie = _SESSIONS.get((root, user.name))
    if cookie is not None:
        context.add_cookies([cookie])  # type: ignore[list-item]
    else:
        sign_in(page, root + "/", user.name, user.password, timeout=timeout)
        _SESSIONS[(root, user.name)] = _wait_for_cookie(context, timeout)
    signed_in_as[root] = user.name
    context._pulse_signed_in_as = signed_in_as  # type: ignore[attr-defined]


def open_page(
    page: Page,
    url: str,
    *,
    viewport: Mapping[str, int] | None = DESKTOP,
    timeout: float = 30.0,
    user: str | TestUser | None = "admin",
) -> PageWatch:
    """Resize to ``viewport`` (None: leave it), sign in as ``user`` (a role of
    :data:`TEST_USERS`, a :class:`TestUser`, or None: stay as the browser context is), go to
    ``url``, wait until the page has finished (:func:`wait_until_ready`); returns the page's
    :class:`PageWatch` (collects console errors, page errors and Streamlit exceptions from now
    on). A browser context signs in once per server and user; its cookie is reused."""
    pw = watch(page)
    if viewport is not None:
        page.set_viewport_size(dict(viewport))  # type: ignore[arg-type]
    person = TEST_USERS[user] if isinstance(user, str) else user
    if person is not None:
        _ensure_signed_in(page, url, person, timeout)
    page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    wait_until_ready(page, timeout)
    if person is not None and page.locator(SIGN_IN_FORM).count():
        # A cached cookie the server no longer knows (restarted with a new database).
        _SESSIONS.pop((_root(url), person.name), None)
        page.context._pulse_signed_in_as = {}  # type: ignore[attr-defined]
        page.context.clear_cookies(name=SESSION_COOKIE)
        _ensure_signed_in(page, url, person, timeout)
        page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
        wait_until_ready(page, timeout)
    return pw


# ---- layout -------------------------------------------------------------------------------------
_OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const main = document.querySelector('[data-testid="stMain"]');
  const wide = [];
  for (const el of document.querySelectorAll('[data-testid]')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1 && !el.closest('[data-testid="stDataFrame"] *')) {
      wide.push(`${el.getAttribute('data-testid')} (right edge ${Math.round(r.right)} px)`);
    }
  }
  return {
    width,
    document: document.documentElement.scrollWidth,
    main: main ? main.scrollWidth : null,
    wide: wide.slice(0, 8),
  };
}"""


def assert_no_horizontal_scroll(page: Page) -> None:
    """Nothing scrolls sideways at the current viewport: neither the document nor ``stMain``
    is wider than the window (1 px of rounding allowed). On failure, names the widest elements.
    """
    m: dict[str, Any] = page.evaluate(_OVERFLOW_JS)
    limit = m["width"] + 1
    assert m["document"] <= limit and (m["main"] is None or m["main"] <= limit), (
        f"horizontal scrolling at {m['width']} px: document {m['document']} px, "
        f"stMain {m['main']} px; too wide: {', '.join(m['wide']) or 'nothing named'}"
    )


def full_page_screenshot(page: Page, path: Path) -> Path:
    """A screenshot of the whole page. The page scrolls inside ``stMain``, not the document, so
    the viewport is grown to its scrollHeight first (and restored afterwards)."""
    size = page.viewport_size or DESKTOP
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.documentElement.scrollHeight; }"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height))})
        page.wait_for_timeout(300)  # let charts and tables lay out at the new height
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size({"width": size["width"], "height": size["height"]})
    return path


def go_to(page: Page, title: str) -> None:
    """Open a page from the top navigation, as a user does: its section's menu, then the page
    (``apps.streamlit.navigation`` groups the pages in sections)."""
    from apps.streamlit.navigation import PAGES

    spec = next(p for p in PAGES if p.title == title)
    direct = page.locator('a[data-testid*="NavLink"]', has_text=title)
    if direct.count():
        direct.first.click()
    else:
        page.locator('[data-testid="stTopNavSection"]', has_text=spec.section).first.click()
        page.locator('a[data-testid="stTopNavDropdownLink"]', has_text=title).first.click()
    page.wait_for_url(f"**/{spec.url_path}*")
    wait_until_ready(page)
