"""``make screenshots``: every dashboard page at desktop (1280 px) and phone (390 px) width, as
full-page PNGs in ``docs/screenshots/``, taken from the real app in headless Chromium on a
materialized data dir (default: ``PULSE_DATA_DIR`` or ``./data``, what ``make demo`` builds).

The docs and the README embed these files, so they are regenerated, never drawn by hand. The
sign-in screen is shot first (``sign-in-*.png``), then the browser signs in as an admin made for
the run (``bench.dashboards.bench_admin``: the data dir's own users are left alone).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.dashboards import (
    BENCH_ADMIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    TIMER_PAGES,
    _free_port,
    _visit,
    bench_admin,
    sign_in,
    start_streamlit,
)

OUT = REPO / "docs" / "screenshots"
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}


def take(data_dir: Path, out: Path = OUT, query: str = "") -> list[Path]:
    from playwright.sync_api import sync_playwright

    from apps.streamlit.navigation import PAGES
    from core.settings import Settings
    from lake import gold

    try:
        gold.current(Settings(data_dir=data_dir))
    except gold.MartNotPublished:
        raise SystemExit(f"no gold publication under {data_dir}: run `make demo` first") from None
    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    work = Path(tempfile.mkdtemp(prefix="pulse-screenshots-"))
    env, password = bench_admin(data_dir, work)
    server = start_streamlit(data_dir, port, env)
    written = []
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, (width, height) in VIEWPORTS.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(f"{base}/")
                page.wait_for_selector(".st-key-sign_in_card", timeout=60_000)
                time.sleep(0.5)
                path = out / f"sign-in-{name}.png"
                page.screenshot(path=str(path))
                written.append(path)
                print(f"  {path.relative_to(REPO)}")
                sign_in(page, base, BENCH_ADMIN, password)
                for spec in PAGES:
                    url = f"http://127.0.0.1:{port}/{spec.route}" + (f"?{query}" if query else "")
                    _visit(page, url, spec.url_path in TIMER_PAGES)
                    time.sleep(1.0)  # charts finish their layout
                    full = page.evaluate(
                        "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
                    )
                    page.set_viewport_size({"width": width, "height": max(height, int(full))})
                    time.sleep(0.5)
                    path = out / f"{spec.url_path}-{name}.png"
                    page.screenshot(path=str(path))
                    page.set_viewport_size({"width": width, "height": height})
                    written.append(path)
                    print(f"  {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__)
    parser.add_argument("--data-dir", default=os.environ.get("PULSE_DATA_DIR", "data"))
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--query", default="", help="query string for every page (e.g. range=...)")
    args = parser.parse_args()
    take(Path(args.data_dir).resolve(), Path(args.out), args.query)


if __name__ == "__main__":
    main()
