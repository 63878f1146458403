"""Dashboard page loads in headless Chromium: time from navigation to "page finished".

"Finished" is Streamlit's own end-to-end criterion (``stApp`` connected and not running, no
skeleton left; STACK_NOTES). Per page:

- **cold**: the first visit after a new gold publication (the query layer's cache keys change),
  on a server that has already served every page once (a new publication does not restart it:
  its libraries are imported and its compiled SQL kept, the results are not);
- **warm**: later visits to the same view (the query layer answers from its cache), as a full
  reload of the URL and as in-app navigation from another page (the app stays loaded in the
  browser; what a user moving between pages sees).

Pages come from ``apps.streamlit.navigation.PAGES``; each page's slowest query is read from the
query log (``system/query_log``) that the visits wrote. Pages that refresh on a timer (Live) are
measured to their first complete render. The browser signs in once, before any timing, as an
admin made for the run (:func:`bench_admin`), so every page (Users too) is measured.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FINISHED = (
    '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
    '[data-test-script-state="notRunning"]'
)
# Timer-driven pages never settle in "notRunning" for long: first render only.
TIMER_PAGES = {"live"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


BENCH_ADMIN = "bench-admin"


def bench_admin(data_dir: Path, work: Path) -> tuple[dict[str, str], str]:
    """An admin for a benchmark's or screenshot run's server: (the environment that points the
    server at its metadata database, the password). With the default SQLite metadata database
    the server gets a copy in ``work`` (the pages read alerts and sources from it), so the data
    dir's own users are left alone; a configured database (PostgreSQL) gets the user itself."""
    import secrets

    from core import accounts
    from core.metadata import engine_for
    from core.settings import Settings

    url = os.environ.get("PULSE_METADATA_URL") or ""
    if not url:
        source = data_dir / "pulse.db"
        copy = work / "bench-metadata" / "pulse.db"
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.exists():
            shutil.copy2(source, copy)
        url = f"sqlite:///{copy}"
    password = secrets.token_urlsafe(12)
    engine = engine_for(Settings(data_dir=data_dir, metadata_url=url))
    if accounts.get_user(engine, BENCH_ADMIN) is None:
        accounts.add_user(engine, BENCH_ADMIN, "admin", password)
    else:
        accounts.set_role(engine, BENCH_ADMIN, "admin")
        accounts.set_password(engine, BENCH_ADMIN, password)
    engine.dispose()
    return {"PULSE_METADATA_URL": url}, password


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    """Sign in through the app's form (the session cookie then lasts the browser context)."""
    page.goto(f"{base}/")
    form = page.locator(".st-key-sign_in_card")
    form.get_by_label("Username", exact=True).fill(username)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(".st-key-account_bar", timeout=60_000)
    page.wait_for_selector(FINISHED, timeout=60_000)
    deadline = time.monotonic() + 10
    while not any(c["name"] == "pulse_session" for c in page.context.cookies()):
        if time.monotonic() > deadline:
            raise RuntimeError("signed in, but the browser got no session cookie")
        time.sleep(0.05)


def start_streamlit(
    data_dir: Path, port: int, env_extra: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {**os.environ, "PULSE_DATA_DIR": str(data_dir), **(env_extra or {})}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "apps" / "streamlit" / "app.py"),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--client.toolbarMode",
            "viewer",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not answer /_stcore/health within 60 s")


def _visit(page: Any, url: str, timer: bool) -> float:
    t0 = time.perf_counter()
    page.goto(url)
    if timer:
        page.wait_for_selector('[data-testid="stMain"] h1', timeout=60_000)
    else:
        page.wait_for_selector(FINISHED, timeout=60_000)
        page.wait_for_function(
            "!document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=60_000
        )
    return time.perf_counter() - t0


def _navigate(page: Any, spec: Any, timer: bool) -> float:
    """In-app navigation, as a user moves between pages: the page's section in the top bar,
    then its link (the browser keeps the app loaded; only the page's script runs)."""
    t0 = time.perf_counter()
    direct = page.locator('a[data-testid*="NavLink"]', has_text=spec.title)
    if direct.count():
        direct.first.click()
    else:
        page.locator('[data-testid="stTopNavSection"]', has_text=spec.section).first.click()
        page.locator('a[data-testid="stTopNavDropdownLink"]', has_text=spec.title).first.click()
    page.wait_for_url(f"**/{spec.route}" if spec.route else "**/")
    page.wait_for_timeout(50)  # let the rerun start before waiting for it to finish
    if timer:
        page.wait_for_selector('[data-testid="stMain"] h1', timeout=60_000)
    else:
        page.wait_for_selector(FINISHED, timeout=60_000)
        page.wait_for_function(
            "!document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=60_000
        )
    return time.perf_counter() - t0


def republish(data_dir: Path) -> str:
    """A new publication of the same marts (what a pipeline run does): caches key on it."""
    from core.settings import Settings
    from lake import gold

    settings = Settings(data_dir=data_dir)
    current = gold.current(settings)
    tables = {}
    import pyarrow.parquet as pq

    for name in current.models:
        tables[name] = pq.read_table(current.path / f"{name}.parquet")
    # The run's metadata travels with it (bronze versions, data watermarks): without it the
    # query layer would treat the new publication as older than bronze and answer "live" days.
    metadata = {
        "run_id": current.run_id,
        "bronze_versions": dict(current.bronze_versions),
        **dict(current.extra),
    }
    return gold.publish(settings, tables, metadata).id


def measure(data_dir: Path, warm_visits: int = 5, query: str = "") -> dict[str, Any]:
    """Cold and warm load times of every page on ``data_dir`` (a materialized data dir)."""
    from playwright.sync_api import sync_playwright

    from apps.streamlit.navigation import PAGES

    port = _free_port()
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-signin-"))
    env, password = bench_admin(data_dir, work)
    server = start_streamlit(data_dir, port, env)
    results: dict[str, dict[str, Any]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            base = f"http://127.0.0.1:{port}"
            sign_in(page, base, BENCH_ADMIN, password)
            # A server that has been serving: every page visited once (imports, the MetricFlow
            # manifest and compiled SQL, the Dagster instance), then a new publication arrives.
            for spec in PAGES:
                _visit(page, f"{base}/{spec.route}", spec.url_path in TIMER_PAGES)
            publication = republish(data_dir)
            for spec in PAGES:
                url = f"{base}/{spec.route}" + (f"?{query}" if query else "")
                timer = spec.url_path in TIMER_PAGES
                cold = _visit(page, url, timer)
                warm = [_visit(page, url, timer) for _ in range(warm_visits)]
                results[spec.url_path] = {"cold": cold, "warm": warm}
            # In-app navigation between pages (warm): from the previous page to each page.
            home = next(p for p in PAGES if p.default)
            for spec in PAGES:
                timer = spec.url_path in TIMER_PAGES
                times = []
                for _ in range(warm_visits):
                    other = home if spec is not home else PAGES[-1]
                    _visit(page, f"{base}/{other.route}", other.url_path in TIMER_PAGES)
                    times.append(_navigate(page, spec, timer))
                results[spec.url_path]["navigate"] = times
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
    slowest = _slowest_queries(data_dir)
    return {"pages": results, "publication": publication, "slowest": slowest}


def _slowest_queries(data_dir: Path) -> dict[str, tuple[str, float]]:
    """Each page's slowest query in the query log (written by the visits)."""
    time.sleep(6)  # the log is flushed in batches by the server's background thread
    from analytics import read_query_log
    from core.settings import Settings

    log = read_query_log(Settings(data_dir=data_dir))
    if log is None or log.is_empty():
        return {}
    worst = log.sort("duration_ms", descending=True).group_by("page", maintain_order=True).first()
    return {
        str(r["page"]): (str(r["query"]), float(r["duration_ms"]))
        for r in worst.select("page", "query", "duration_ms").iter_rows(named=True)
        if r["page"] is not None
    }


# The goals (seconds) by world: the demo's, and 10x its users (there only warm p95).
GOALS = {
    "1x": {"cold_p95": "<= 2 s", "warm_p95": "<= 1 s", "navigate_p95": "<= 1 s"},
    "10x": {"warm_p95": "<= 1.5 s", "navigate_p95": "<= 1.5 s"},
}


def run(
    data_dir: Path | None, users: int, days: int, warm_visits: int = 5, scale: str = "1x"
) -> tuple[dict, list, dict]:
    """Measure on ``data_dir`` (a materialized data dir), or on a fresh ``pulse demo`` world of
    ``users`` × ``days`` built in a temporary directory (copied: the benchmark republishes).
    ``scale`` names the world against the demo's ("1x", "10x"): it picks the goals."""
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-dashboards-"))
    try:
        if data_dir is None:
            data_dir = work / "data"
            subprocess.run(
                [sys.executable, "-m", "pulse.cli", "demo", "--no-serve", "--users", str(users),
                 "--days", str(days)],
                env={**os.environ, "PULSE_DATA_DIR": str(data_dir),
                     "PULSE_COLLECTOR_PORT": str(_free_port())},
                check=True,
            )  # fmt: skip
        else:
            copy = work / "data"
            shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("dbt"))
            data_dir = copy
        measured = measure(data_dir, warm_visits)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pages = measured["pages"]
    cold = [v["cold"] for v in pages.values()]
    warm = [w for v in pages.values() for w in v["warm"]]
    navigate = [w for v in pages.values() for w in v.get("navigate", [])]
    goals = GOALS[scale]
    metrics: list[dict[str, Any]] = [
        {"metric": "cold load p50 (all pages)", "value": _percentile(cold, 0.5), "unit": "s"},
        {"metric": "cold load p95 (all pages)", "value": _percentile(cold, 0.95), "unit": "s", "goal": goals.get("cold_p95", "")},
        {"metric": "warm load p50 (all pages)", "value": _percentile(warm, 0.5), "unit": "s"},
        {"metric": "warm load p95 (all pages)", "value": _percentile(warm, 0.95), "unit": "s", "goal": goals.get("warm_p95", "")},
        {"metric": "in-app navigation p50 (all pages, warm)", "value": _percentile(navigate, 0.5), "unit": "s"},
        {"metric": "in-app navigation p95 (all pages, warm)", "value": _percentile(navigate, 0.95), "unit": "s", "goal": goals.get("navigate_p95", "")},
    ]  # fmt: skip
    for name, values in pages.items():
        slow = measured["slowest"].get(name)
        note = f" (slowest query: {slow[0][:60]} {slow[1]:.0f} ms)" if slow else ""
        metrics.append(
            {
                "metric": f"{name}: cold / warm reload / in-app median{note}",
                "value": values["cold"],
                "unit": f"s / {statistics.median(values['warm']):.2f} s / "
                f"{statistics.median(values.get('navigate') or [float('nan')]):.2f} s",
            }
        )
    params = {
        "world": scale,
        "users": users,
        "days": days,
        "warm_visits": warm_visits,
        "pages": len(pages),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }
    return params, metrics, measured
