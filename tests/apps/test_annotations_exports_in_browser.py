"""Annotations and exports in real Chromium, on a copy of the shared demo's data dir (one server
for the module): a note made on one page shows on another page's chart and survives a server
restart; a table downloads as CSV and XLSX, a chart as PNG and SVG, the whole page as PDF, and
each reopens with the right content."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import openpyxl
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

pytestmark = pytest.mark.integration

RANGE = ("2026-02-08", "2026-02-21")


@pytest.fixture(scope="module")
def data_dir(demo_run, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("annotations") / "data"
    # A copy: the pages write the query log, the notes go into its metadata database.
    shutil.copytree(demo_run[0], data, ignore=shutil.ignore_patterns("dbt"))
    return data


@pytest.fixture(scope="module")
def app(data_dir) -> Iterator[StreamlitServer]:
    env = streamlit_env(data_dir, {"PULSE_COLLECTOR_PORT": "9"})
    with run_streamlit(env, log_path=data_dir.parent / "streamlit.log") as s:
        yield s


def _open(page: Page, app: StreamlitServer, route: str, **query):
    # An analyst: the role that may edit annotations (signed in through the form once).
    return open_page(
        page, app.url_for(route, range=list(RANGE), **query), timeout=60, user="analyst"
    )


def _chart_text(page: Page) -> str:
    return " ".join(c.text_content() or "" for c in page.get_by_test_id("stVegaLiteChart").all())


def _download(page: Page, trigger, timeout: float = 90):
    with page.expect_download(timeout=timeout * 1000) as info:
        trigger()
    return Path(info.value.path()).read_bytes(), info.value.suggested_filename


def test_a_note_on_one_page_shows_on_another_and_survives_a_restart(app, page: Page, screenshot):
    watch = _open(page, app, "revenue")
    page.get_by_role("button", name="Annotations").click()
    menu = page.get_by_test_id("stPopoverBody")
    menu.get_by_label("Note").fill("price test started")
    menu.get_by_role("button", name="Add annotation").click()
    expect(menu.get_by_text("Annotation added")).to_be_visible(timeout=30_000)
    screenshot(page, "revenue-annotations-menu", full_page=False)
    page.keyboard.press("Escape")
    wait_until_ready(page)
    expect(page.get_by_test_id("stVegaLiteChart").first).to_contain_text("price test started")

    _open(page, app, "")  # the executive page, the app's root
    expect(page.locator(".st-key-trend_chart__ [data-testid='stVegaLiteChart']")).to_contain_text(
        "price test started", timeout=30_000
    )
    page.goto("about:blank")  # no reconnect attempts (console errors) while it is down
    app.stop()
    app.start()
    open_page(page, app.url, timeout=60, user="analyst")  # a fresh server runs app.py once first
    _open(page, app, "engagement")
    expect(page.get_by_test_id("stVegaLiteChart").first).to_contain_text(
        "price test started", timeout=30_000
    )
    assert "price test started" in _chart_text(page)
    screenshot(page, "engagement-with-note")
    watch.assert_clean()


def test_a_table_downloads_as_csv_and_xlsx_with_its_labels(app, data_dir, page: Page):
    from analytics.query import QueryLayer
    from core.settings import Settings

    watch = _open(page, app, "revenue")
    tools = page.locator(".st-key-stream_table_tools")
    tools.get_by_test_id("stPopover").get_by_role("button").click()
    body = page.get_by_test_id("stPopoverBody")
    csv_bytes, name = _download(page, lambda: body.get_by_role("button", name="CSV").click())
    assert name == "stream_table.csv"
    xlsx_bytes, name = _download(page, lambda: body.get_by_role("button", name="XLSX").click())
    assert name == "stream_table.xlsx"

    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
    assert list(rows[0])[:3] == ["Stream", "Gross", "Refunds"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes)).active
    header, *cells = list(sheet.values)
    assert list(header) == list(rows[0])
    assert [r[0] for r in cells] == [r["Stream"] for r in rows]

    start, end = (dt.date.fromisoformat(d) for d in RANGE)
    expected = (
        QueryLayer(Settings(data_dir=data_dir), role="viewer")
        .metrics(["gross_revenue"], group_by=["revenue__stream"], start=start, end=end)
        .frame
    )
    want = dict(zip(expected["revenue__stream"], expected["gross_revenue"], strict=True))
    got = {r[0]: r[1] for r in cells}
    labels = {"subscriptions": "Subscriptions", "program_sales": "Program sales"}
    assert {labels[k]: pytest.approx(float(v)) for k, v in want.items()} == got
    assert sum(float(r["Gross"]) for r in rows) == pytest.approx(sum(got.values()))
    watch.assert_clean()


def test_a_chart_downloads_as_png_and_svg(app, page: Page):
    import xml.etree.ElementTree as ET

    watch = _open(page, app, "")
    tools = page.locator(".st-key-trend_chart_exports")
    tools.get_by_test_id("stPopover").get_by_role("button").click()
    body = page.get_by_test_id("stPopoverBody")
    png, name = _download(page, lambda: body.get_by_role("button", name="PNG").click())
    assert name == "trend_chart.png" and png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width >= 1000 and height >= 400, (width, height)
    svg, _ = _download(page, lambda: body.get_by_role("button", name="SVG").click())
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and "per day" in svg.decode()
    watch.assert_clean()


def test_the_page_downloads_as_pdf(app, page: Page):
    from pypdf import PdfReader

    watch = _open(page, app, "revenue", platform="ios")
    pdf, name = _download(page, lambda: page.get_by_role("button", name="PDF").click(), 120)
    assert name == "pulse-revenue.pdf" and pdf[:5] == b"%PDF-"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Revenue" in text and "Platform: ios" in text, text[:500]
    assert len(PdfReader(io.BytesIO(pdf)).pages) > 1, "the whole page, not its first screen"
    watch.assert_clean()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_page_tools_fit_the_screen(app, page: Page, viewport, screenshot):
    watch = open_page(
        page, app.url_for("revenue", range=list(RANGE)), viewport=viewport, timeout=60
    )
    page.get_by_role("button", name="Share").click()
    link = page.get_by_test_id("stPopoverBody").get_by_test_id("stCode").text_content() or ""
    assert link.startswith(f"{app.url}/revenue?range=2026-02-08&range=2026-02-21"), link
    assert_no_horizontal_scroll(page)
    tag = "desktop" if viewport is DESKTOP else "phone"
    screenshot(page, f"revenue-share-{tag}", full_page=False)
    page.keyboard.press("Escape")
    screenshot(page, f"revenue-{tag}")
    watch.assert_clean()
