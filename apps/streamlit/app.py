"""Pulse dashboards: ``streamlit run apps/streamlit/app.py``.

One multipage app; the navigation (top bar, a menu on a phone) groups the pages by who reads
them (``navigation.PAGES``). Each page is a script in ``views/`` built on ``components/`` and
the one query layer (``queries.py`` → ``analytics.QueryLayer``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.streamlit import usage
from apps.streamlit.navigation import PAGES, SECTIONS

HERE = Path(__file__).parent
# A local icon: a Material icon as page_icon is fetched from a font CDN by the browser.
st.set_page_config(page_title="Pulse", page_icon=str(HERE / "assets" / "pulse.png"), layout="wide")

sections: dict[str, list[st.Page]] = {}
url_paths: dict[str, str] = {}  # st.Page title -> our url_path (the default page's is "")
for section in SECTIONS:
    pages = []
    for spec in (p for p in PAGES if p.section == section):
        pages.append(
            st.Page(
                spec.path,
                title=spec.title,
                icon=spec.icon,
                url_path=spec.url_path,
                default=spec.default,
            )
        )
        url_paths[spec.title] = spec.url_path
    if pages:
        sections[section] = pages
current = st.navigation(sections, position="top")
# Adoption: one `Dashboard Viewed` per page view (a rerun of the same page is not a view).
viewed = url_paths.get(current.title, current.url_path)
if st.session_state.get("_usage_viewed") != viewed:
    st.session_state["_usage_viewed"] = viewed
    usage.dashboard_viewed(viewed)
current.run()
