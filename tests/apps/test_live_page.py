"""The Live page in a real browser: a real collector process, ``streamlit run`` and Chromium.

One collector and one Streamlit server serve the whole module (starting them is most of the
time); each test has its own browser context. The restart test runs last: it kills the
collector and leaves it running again."""

from __future__ import annotations

import time

import pytest
import streamlit as st
from browser_harness import (
    APP,
    DESKTOP,
    PHONE,
    assert_no_horizontal_scroll,
    free_port,
    go_to,
    open_page,
    run_streamlit,
    streamlit_env,
)
from live_collector import Collector, LiveCollector
from playwright.sync_api import Page, expect
from streamlit.testing.v1 import AppTest

from core.settings import get_settings

pytestmark = pytest.mark.integration
PAGE = APP.parent / "views" / "live.py"


def test_page_renders_while_the_collector_is_unreachable(pulse_settings, monkeypatch):
    """AppTest (no browser): the page draws its frame and says what is wrong, never raises."""
    monkeypatch.setenv("PULSE_COLLECTOR_PORT", str(free_port()))
    get_settings.cache_clear()
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    try:
        assert not at.exception
        assert at.title[0].value == "Live"
        assert "reaching the collector" in at.caption[0].value
        assert [m.label for m in at.metric] == [
            "Events in the last minute",
            "Events per second",
            "Last event",
        ]
        assert {w.label for w in at.multiselect} == {"Event", "Type", "Source"}
        assert any(i.value.startswith("No matching events yet") for i in at.info)
    finally:
        st.cache_resource.clear()  # stops the page's reader thread (on_release)
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def live_app(tmp_path_factory, browser):
    """(collector, streamlit server) on one data dir: the page lists the collector's sources.

    The app's root is opened once first (a user arriving from the navigation)."""
    root = tmp_path_factory.mktemp("live-page")
    data_dir = root / "data"
    data_dir.mkdir()
    live = LiveCollector(Collector(data_dir, collector_id="live-page"))
    live.add_source("web")
    live.add_source("ios-app")
    live.start()
    env = streamlit_env(
        data_dir, {"PULSE_HOST": "127.0.0.1", "PULSE_COLLECTOR_PORT": str(live.port)}
    )
    try:
        with run_streamlit(env, log_path=root / "streamlit.log") as server:
            context = browser.new_context()
            open_page(context.new_page(), server.url)
            context.close()
            yield live, server
    finally:
        if live.process.proc is not None:
            live.kill()


def status(page: Page):
    return page.locator(".st-key-live_status")


def metric(page: Page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def table_text(page: Page) -> str:
    return page.get_by_test_id("stDataFrame").text_content() or ""


def open_live(page: Page, server, **query) -> object:
    """The Live page by its own URL (the server has already run app.py: see the last test)."""
    pw = open_page(page, server.url_for("live", **query))
    expect(status(page)).to_contain_text("Live", timeout=10_000)
    return pw


def seconds_until(page: Page, js_condition: str, timeout: float = 5.0) -> float:
    start = time.monotonic()
    page.wait_for_function(js_condition, timeout=timeout * 1000, polling="raf")
    return time.monotonic() - start


def test_opens_from_the_navigation_and_shows_events_within_a_second(live_app, page, screenshot):
    live, server = live_app
    pw = open_page(page, server.url)
    go_to(page, "Live")
    expect(page.get_by_role("heading", name="Live")).to_be_visible()
    expect(status(page)).to_contain_text("Live", timeout=10_000)
    expect(metric(page, "Events in the last minute")).to_have_text("0")

    latencies = []
    for n in (1, 2, 3):
        live.track("Live Check", 1, plan="premium")  # returns once the collector has accepted it
        sent = time.monotonic()
        page.wait_for_function(
            """n => [...document.querySelectorAll('[data-testid="stMetric"]')]
                 .find(m => m.textContent.includes('Events in the last minute'))
                 ?.querySelector('[data-testid="stMetricValue"]')?.textContent === String(n)""",
            arg=n,
            timeout=5000,
            polling="raf",
        )
        latencies.append(time.monotonic() - sent)
        time.sleep(0.37 * n)  # land at different points of the once-a-second redraw
    print(f"ingest → page: {', '.join(f'{s:.2f} s' for s in latencies)}")
    assert max(latencies) <= 1.0, f"ingest → page took {latencies}"
    assert "Live Check" in table_text(page)
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(2)
    live.send([{"type": "identify", "userId": "u7", "traits": {"plan": "basic"}}], source="ios-app")
    live.track("Route Saved", 2, source="ios-app", distance_km=5)
    expect(metric(page, "Events in the last minute")).to_have_text("6", timeout=3000)
    page.wait_for_timeout(500)
    assert "ios-app" in table_text(page)  # the source's name, not its id
    screenshot(page, "live-desktop")
    pw.assert_clean()


def test_filters_are_applied_by_the_collector_and_kept_in_the_url(live_app, page, screenshot):
    live, server = live_app
    pw = open_live(page, server, event="Wanted", source="ios-app")  # the URL names the source
    filters = page.locator(".st-key-live_filters")
    expect(filters).to_contain_text("Wanted")
    expect(filters).to_contain_text("ios-app")
    live.track("Wanted", 2, source="ios-app")
    live.track("Wanted", 1, source="web")  # other source
    live.track("Unwanted", 1, source="ios-app")  # other event
    expect(metric(page, "Events in the last minute")).to_have_text("2", timeout=3000)
    page.wait_for_timeout(1200)  # a redraw later, still only the two
    expect(metric(page, "Events in the last minute")).to_have_text("2")
    text = table_text(page)
    assert "Wanted" in text and "Unwanted" not in text and "web" not in text
    # The per-minute history of a source filter is counted on the page, which says so.
    expect(page.get_by_text("cannot be filtered by source")).to_be_visible()
    screenshot(page, "live-filtered")
    pw.assert_clean()


def test_readable_on_a_phone_without_horizontal_scrolling(live_app, page, screenshot):
    live, server = live_app
    pw = open_page(page, server.url_for("live"), viewport=PHONE)
    expect(status(page)).to_contain_text("Live", timeout=10_000)
    live.track("Live Check", 2, plan="premium", note="a longer property value " * 4)
    expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=3000)
    page.wait_for_timeout(1200)
    assert_no_horizontal_scroll(page)
    # The three numbers stack and stay readable: each card spans (almost) the width.
    for label in ("Events in the last minute", "Events per second", "Last event"):
        box = page.get_by_test_id("stMetric").filter(has_text=label).bounding_box()
        assert box is not None and box["width"] > PHONE["width"] * 0.7, (label, box)
    screenshot(page, "live-phone")
    pw.assert_clean()


def test_survives_a_collector_restart(live_app, page, screenshot):
    live, server = live_app
    pw = open_live(page, server)
    live.track("Before Restart", 1)
    expect(page.get_by_test_id("stDataFrame")).to_contain_text("Before Restart", timeout=3000)
    live.kill()
    expect(status(page)).to_contain_text("Reconnecting…", timeout=3000)
    expect(status(page)).to_contain_text("Next attempt in")
    screenshot(page, "live-reconnecting", full_page=False)
    live.start()
    expect(status(page)).to_contain_text("Live", timeout=20_000)
    live.track("After Restart", 1)
    expect(page.get_by_test_id("stDataFrame")).to_contain_text("After Restart", timeout=3000)
    assert "Before Restart" in table_text(page)  # the buffer kept what came before
    page.set_viewport_size(DESKTOP)
    pw.assert_clean()


def test_a_deep_link_on_a_fresh_server_runs_the_app(tmp_path, page):
    """A bookmarked page opened first after a restart gets the app's navigation (a folder named
    pages/ beside app.py used to put Streamlit in its v1 mode: the page alone, no navigation)."""
    env = streamlit_env(tmp_path / "data", {"PULSE_COLLECTOR_PORT": "9"})
    with run_streamlit(env, log_path=tmp_path / "streamlit.log") as server:
        open_page(page, server.url_for("live"))
        nav = page.locator('[data-testid="stToolbar"], header').first.inner_text()
        sections = {
            s.section for s in __import__("apps.streamlit.navigation", fromlist=["PAGES"]).PAGES
        }
        assert all(section in nav for section in sections), nav
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # no v1 page list
