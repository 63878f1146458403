"""The dashboards with a signed-in analyst, for browser tests written before the sign-in form
exists: every session starts as ``ana`` (analyst), then runs the real ``app.py``. Once the
sign-in lands, tests sign in through its form instead (``browser_harness.sign_in``)."""

import runpy
from pathlib import Path

import streamlit as st

st.session_state.setdefault("pulse_user", {"name": "ana", "role": "analyst"})
runpy.run_path(str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "app.py"))
