"""Every dashboard page in real Chromium, on a copy of the shared demo's data dir: each opens at
desktop and phone width without a Streamlit exception, a console error or sideways scrolling; a
permalink reopens the same view; a click on a chart drills down and the breadcrumb undoes it.

Pages come from ``apps.streamlit.navigation.PAGES``, so a new page is covered by adding it there.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from browser_harness import (
    DESKTOP,
    PHONE,
    StreamlitServer,
    assert_no_horizontal_scroll,
    open_page,
    run_streamlit,
    streamlit_env,
    wait_until_ready,
)
from playwright.sync_api import Page, expect

from apps.streamlit.navigation import PAGES

pytestmark = pytest.mark.integration

RANGE = ("2026-02-08", "2026-02-21")  # inside the demo's data, with two weeks before it


@pytest.fixture(scope="module")
def app(demo_run, tmp_path_factory) -> Iterator[StreamlitServer]:
    root = tmp_path_factory.mktemp("pages")
    data = root / "data"
    # A copy: the pages write the query log into the data dir.
    shutil.copytree(demo_run[0], data, ignore=shutil.ignore_patterns("dbt"))
    env = streamlit_env(data, {"PULSE_COLLECTOR_PORT": "9"})  # no collector: Live says so
    with run_streamlit(env, log_path=root / "streamlit.log") as server:
        yield server


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_page_renders_cleanly(app, page: Page, spec, viewport, screenshot):
    watch = open_page(page, app.url_for(spec.route), viewport=viewport, timeout=60)
    expect(page.locator("h1").first).to_be_visible()
    assert_no_horizontal_scroll(page)
    screenshot(page, f"{spec.url_path}-{'desktop' if viewport is DESKTOP else 'phone'}")
    watch.assert_clean()


def _card_values(page: Page) -> list[str]:
    return page.locator('[data-testid="stMetricValue"]').all_inner_texts()


def test_a_permalink_reopens_the_same_view(app, page: Page, context):
    url = app.url_for("", range=list(RANGE), platform="ios", compare="Previous period")
    watch = open_page(page, url)
    first = _card_values(page)
    caption = page.get_by_text("Platform: ios").first
    expect(caption).to_be_visible()
    # The widgets wrote the view into the URL: the copied link opens the same cards elsewhere.
    copied = page.url
    assert "platform=ios" in copied and "range=2026-02-08" in copied
    other = context.new_page()
    open_page(other, copied)
    assert _card_values(other) == first
    expect(other.get_by_text("Feb 08 – Feb 21, 2026").first).to_be_visible()
    watch.assert_clean()


def test_clicking_a_bar_drills_down_and_the_breadcrumb_undoes_it(app, page: Page):
    watch = open_page(page, app.url_for("", range=list(RANGE)))
    before = _card_values(page)
    chart = page.locator('[data-testid="stVegaLiteChart"]').nth(1)  # new users by channel
    chart.scroll_into_view_if_needed()
    box = chart.locator("svg").first.bounding_box()
    assert box is not None
    # The first (largest) bar is the top one: click a little below the chart's title.
    page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.18)
    page.wait_for_url("**drill=acquisition_channel*", timeout=15_000)
    wait_until_ready(page)
    expect(page.get_by_text("Drill-down:")).to_be_visible()
    expect(page.locator('[data-testid="stMetricValue"]')).to_have_count(len(before))
    assert _card_values(page) != before  # the cards now count one channel
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("Drill-down:")).to_have_count(0)
    wait_until_ready(page)
    expect(page.locator('[data-testid="stMetricValue"]')).to_have_text(before)
    assert "drill=" not in page.url
    watch.assert_clean()


def test_a_page_section_tab_is_in_the_link_and_only_it_is_drawn(app, page: Page):
    """Sections of a long page are lazy tabs: a click draws the tab and writes ``?tab=``, a
    copied link reopens that tab, and the other tabs' charts are never drawn."""
    watch = open_page(page, app.url_for("revenue", range=list(RANGE)))
    expect(page.get_by_role("tab", name="Revenue by stream")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.get_by_text("Click a day to narrow the page to it")).to_be_visible()
    expect(page.get_by_text("MRR movements by month")).to_have_count(0)
    page.get_by_role("tab", name="MRR").click()
    page.wait_for_url("**tab=MRR*", timeout=15_000)
    wait_until_ready(page)
    expect(page.get_by_text("MRR movements by month")).to_be_visible()
    expect(page.get_by_text("Click a day to narrow the page to it")).to_have_count(0)  # by stream
    copied = page.url
    open_page(page, copied)
    expect(page.get_by_role("tab", name="MRR")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("MRR movements by month")).to_be_visible()
    watch.assert_clean()
