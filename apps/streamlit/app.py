"""Pulse dashboards: ``streamlit run apps/streamlit/app.py``.

One multipage app; the navigation (top bar, a menu on a phone) groups the pages by who reads
them (``navigation.PAGES``). Each page is a script in ``views/`` built on ``components/`` and
the one query layer (``queries.py`` → ``analytics.QueryLayer``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.streamlit.navigation import PAGES, SECTIONS

HERE = Path(__file__).parent
# A local icon: a Material icon as page_icon is fetched from a font CDN by the browser.
st.set_page_config(page_title="Pulse", page_icon=str(HERE / "assets" / "pulse.png"), layout="wide")

sections: dict[str, list[st.Page]] = {}
for section in SECTIONS:
    pages = [
        st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p.default)
        for p in PAGES
        if p.section == section
    ]
    if pages:
        sections[section] = pages
st.navigation(sections, position="top").run()
