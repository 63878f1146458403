"""Pulse dashboards: ``streamlit run apps/streamlit/app.py``.

One multipage app; the navigation (top bar, a menu on a phone) groups the pages by who reads
them (``navigation.PAGES``). Each page is a script in ``views/`` built on ``components/`` and
the one query layer (``queries.py`` → ``analytics.QueryLayer``). Nobody sees a page before
signing in (``sign_in.gate``); each role sees the pages it may use.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.streamlit import usage
from apps.streamlit.navigation import PAGES, SECTIONS, PageSpec, pages_for
from apps.streamlit.sign_in import account_menu, gate
from core.settings import get_settings

HERE = Path(__file__).parent
# A local icon: a Material icon as page_icon is fetched from a font CDN by the browser.
st.set_page_config(page_title="Pulse", page_icon=str(HERE / "assets" / "pulse.png"), layout="wide")


def _navigation(specs: tuple[PageSpec, ...]) -> dict[str, list[st.Page]]:
    sections: dict[str, list[st.Page]] = {}
    for section in SECTIONS:
        pages = [
            st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p.default)
            for p in specs
            if p.section == section
        ]
        if pages:
            sections[section] = pages
    return sections


user = gate(get_settings())
if user is None:
    # Every page registered but hidden and not run: the URL asked for (a deep link) stays, and
    # opens once the person has signed in.
    st.navigation(_navigation(PAGES), position="hidden")
else:
    visible = pages_for(user)
    page = st.navigation(_navigation(visible), position="top")
    account_menu(user)
    # Adoption: one `Dashboard Viewed` per page view (a rerun of the same page is not a view).
    viewed = next((p.url_path for p in visible if p.title == page.title), page.url_path)
    if st.session_state.get(usage.VIEWED_KEY) != viewed:
        st.session_state[usage.VIEWED_KEY] = viewed
        usage.dashboard_viewed(viewed)
    page.run()
