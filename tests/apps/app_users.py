"""The signed-in person for AppTests: the app's gate (apps/streamlit/sign_in.py) and every page
read ``st.session_state["pulse_user"]``, which a test may set directly (a browser cannot)::

    from app_users import as_user

    at = as_user(AppTest.from_file(PAGE), "viewer").run()
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from apps.streamlit.auth import SESSION_KEY
from core.roles import Principal, check_role


def as_user(at: AppTest, role: str = "admin", name: str | None = None) -> AppTest:
    """Sign ``at`` in as ``name`` (default ``test-<role>``, as the browser tests' users) with
    ``role``; returns ``at`` for chaining."""
    at.session_state[SESSION_KEY] = Principal(name or f"test-{role}", check_role(role))
    return at
