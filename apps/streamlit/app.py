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
            PAGES / "revenue.py", title="Revenue", icon=":material/payments:", url_path="revenue"
        ),
        st.Page(
            PAGES / "marketplace.py",
            title="Marketplace",
            icon=":material/storefront:",
            url_path="marketplace",
        ),
    ]
)
navigation.run()
