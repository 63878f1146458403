"""Pulse dashboards: ``streamlit run apps/streamlit/app.py``."""

from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Pulse", page_icon=":bar_chart:", layout="wide")

PAGES = Path(__file__).parent / "pages"
navigation = st.navigation(
    [
        st.Page(
            PAGES / "executive.py", title="Executive", icon=":material/monitoring:", default=True
        ),
        st.Page(
            PAGES / "engagement.py",
            title="Engagement",
            icon=":material/touch_app:",
            url_path="engagement",
        ),
        st.Page(
            PAGES / "retention.py",
            title="Retention",
            icon=":material/group_work:",
            url_path="retention",
        ),
        st.Page(
            PAGES / "funnels.py", title="Funnels", icon=":material/filter_alt:", url_path="funnels"
        ),
    ]
)
navigation.run()
