"""Who is using the dashboards, and whether they may do an edit. The signed-in person is kept in
the session as ``st.session_state["pulse_user"]`` (a :class:`core.roles.Principal`)."""

from __future__ import annotations

import streamlit as st

from core.roles import Principal, refusal

SESSION_KEY = "pulse_user"


def current_user() -> Principal | None:
    """The signed-in person, or None before sign-in."""
    user = st.session_state.get(SESSION_KEY)
    if isinstance(user, dict):  # set by a test or an older session
        user = Principal(user["name"], user["role"])
    return user


def allowed(action: str) -> bool:
    """Whether the signed-in person may do ``action`` (see :data:`core.roles.ACTIONS`)."""
    user = current_user()
    return user is not None and user.can(action)


def require(action: str) -> bool:
    """True when the signed-in person may do ``action``; otherwise shows why not and returns
    False. Call it where the edit happens (a button's handler), not only to hide the button."""
    if allowed(action):
        return True
    user = current_user()
    st.error(
        refusal(user.role, action) if user else "Sign in to make changes.",
        icon=":material/lock:",
    )
    return False
