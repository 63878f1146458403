"""The dashboards app with a test user signed in from the URL (``?as_user=ben:analyst``), for
browser tests written before the sign-in form: the one stand-in for it, used only by
``test_dashboard_builder_in_browser.sign_in``. Runs ``apps/streamlit/app.py`` unchanged."""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "app.py"

who = st.query_params.get("as_user")
if who:
    name, _, role = who.partition(":")
    st.session_state["pulse_user"] = {"name": name, "role": role or "viewer"}
runpy.run_path(str(APP), run_name="__main__")
