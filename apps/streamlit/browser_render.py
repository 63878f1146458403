"""What only a browser can draw, rendered server-side in headless Chromium (Debian's
/usr/bin/chromium through Playwright): a whole dashboard page as PDF, and a Plotly figure as PNG
or SVG (the flow chart; Altair charts are drawn without a browser by vl-convert).

Both run when a user clicks a download, in Streamlit's worker thread for deferred downloads (no
event loop runs there, so Playwright's sync API works). The page is opened again by the
headless browser as the same user (their cookies are passed on), at the same URL, so it shows
the same filters, drill-down and tab.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("PULSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PRINT_WIDTH = 1280  # px: the desktop layout, scaled onto the paper

# Streamlit scrolls inside stMain with a full-height app: printed as is, only the first screen
# would come out. Let everything flow, and leave out what is only for the screen.
PRINT_CSS = """
@page { size: A4 landscape; margin: 10mm; }
html, body, [data-testid="stApp"], [data-testid="stAppViewContainer"], [data-testid="stMain"],
[data-testid="stMainBlockContainer"] {
  height: auto !important; min-height: 0 !important; overflow: visible !important;
  position: static !important;
}
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stSidebar"], .st-key-page_tools, [data-testid="stPopover"],
[data-testid="stDownloadButton"], [data-testid="stElementToolbar"] { display: none !important; }
"""

_READY_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stSkeleton"]');
}"""


class RenderError(RuntimeError):
    """The headless browser could not render (the message says what to check)."""


def _launch(playwright: Any) -> Any:
    if not CHROMIUM.exists():
        raise RenderError(
            f"no Chromium at {CHROMIUM}: install it (apt-get install -y chromium) or set "
            "PULSE_CHROMIUM to its path"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def page_pdf(url: str, cookies: Mapping[str, str] | None = None, *, timeout: float = 60) -> bytes:
    """The page at ``url`` printed to PDF once it has finished running, with ``cookies`` (the
    user's session) set for its origin."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            context = browser.new_context(viewport={"width": PRINT_WIDTH, "height": 900})
            if cookies:
                context.add_cookies(
                    [{"name": k, "value": v, "url": url} for k, v in cookies.items()]
                )
            page = context.new_page()
            page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
            page.wait_for_function(_READY_JS, timeout=timeout * 1000)
            page.wait_for_timeout(500)  # Vega draws its SVGs just after the script is done
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            return page.pdf(print_background=True, prefer_css_page_size=True)
        finally:
            browser.close()


def plotly_image(figure: Any, fmt: str = "png", *, width: int = 900, scale: int = 2) -> bytes:
    """A Plotly figure as PNG or SVG, drawn by plotly.js (bundled with the plotly package, no
    network) in headless Chromium."""
    from playwright.sync_api import sync_playwright
    from plotly.offline import get_plotlyjs

    if fmt not in ("png", "svg"):
        raise ValueError(f"format {fmt!r}: png or svg")
    spec = figure.to_plotly_json()
    height = int(spec.get("layout", {}).get("height") or 420)
    html = f"<html><body><div id='f'></div><script>{get_plotlyjs()}</script></body></html>"
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page()
            page.set_content(html)
            data_url = page.evaluate(
                """async ([spec, fmt, w, h, s]) => {
                  const fig = JSON.parse(spec);
                  await Plotly.newPlot('f', fig.data, fig.layout);
                  return Plotly.toImage('f', {format: fmt, width: w, height: h, scale: s});
                }""",
                [json.dumps(spec, default=str), fmt, width, height, scale],
            )
        finally:
            browser.close()
    header, _, payload = data_url.partition(",")
    if ";base64" in header:
        import base64

        return base64.b64decode(payload)
    from urllib.parse import unquote

    return unquote(payload).encode()
