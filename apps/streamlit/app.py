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
        st.Page(PAGES / "system.py", title="System", icon=":material/dns:", url_path="system"),
        st.Page(
            PAGES / "quality.py",
            title="Data quality",
            icon=":material/verified:",
            url_path="quality",
        ),
    ]
)
navigation.run()
