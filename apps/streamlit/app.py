"""Pulse dashboards: ``streamlit run apps/streamlit/app.py``.

One multipage app; the navigation (top bar, a menu on a phone) groups the pages by who reads
them. Each page is a script in ``pages/`` built on ``components/`` and the one query layer
(``apps/streamlit/queries.py`` → ``analytics.QueryLayer``). The AI-monitoring, experiments and
predictive pages join the "Models" section with the issues that build those models.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent
PAGES = HERE / "views"  # not "pages": Streamlit would also list a pages/ folder as v1 pages
# A local icon: a Material icon as page_icon is fetched from a font CDN by the browser.
st.set_page_config(page_title="Pulse", page_icon=str(HERE / "assets" / "pulse.png"), layout="wide")


def page(file: str, title: str, icon: str, url_path: str, default: bool = False) -> st.Page:
    return st.Page(PAGES / file, title=title, icon=icon, url_path=url_path, default=default)


SECTIONS: dict[str, list[st.Page]] = {
    "Business": [
        page("executive.py", "Executive", ":material/monitoring:", "executive", default=True),
    ],
    "Reference": [
        page("metrics.py", "Metric definitions", ":material/menu_book:", "metrics"),
        page("gallery.py", "Chart gallery", ":material/palette:", "gallery"),
    ],
}

navigation = st.navigation(SECTIONS, position="top")
navigation.run()
