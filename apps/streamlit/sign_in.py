"""The dashboards' gate: nobody sees a page before signing in.

Two ways in, chosen by ``PULSE_DASHBOARD_AUTH``:

- ``password`` (default): the app's own form, checked by :func:`core.accounts.authenticate`.
  A successful sign-in creates a server-side session (:func:`core.accounts.create_session`) and
  hands its token to the browser as the ``pulse_session`` cookie, so a reload (a new Streamlit
  session) signs back in: Streamlit reads cookies (``st.context.cookies``) but cannot set them,
  so a tiny components-v2 script writes ``document.cookie`` (see docs/architecture.md).
- ``oidc``: Streamlit's own ``st.login`` against the provider in ``.streamlit/secrets.toml``
  ``[auth]``; the role comes from the users table by the person's email, else
  ``PULSE_DASHBOARD_OIDC_DEFAULT_ROLE``.

Either way the signed-in :class:`core.roles.Principal` ends up in
``st.session_state["pulse_user"]`` where :mod:`apps.streamlit.auth` reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st
from sqlalchemy import Engine

from apps.streamlit.auth import SESSION_KEY, current_user
from core import accounts
from core.metadata import engine_for
from core.roles import Principal, Role
from core.settings import Settings, get_settings

COOKIE = "pulse_session"
TOKEN_KEY = "pulse_session_token"  # the session's token, while signed in with the password form
_WRITE_COOKIE = "pulse_write_cookie"  # a token to hand to the browser on the next run
_CLEAR_COOKIE = "pulse_clear_cookie"
_SIGNED_OUT = "pulse_signed_out"
_OIDC_RECORDED = "pulse_oidc_recorded"
_LOGO = Path(__file__).parent / "assets" / "pulse.png"

# Runs in the app's page (components v2 are not iframed), so document.cookie is the app's.
# Not HttpOnly (a script sets it); SameSite=Strict; Secure when served over HTTPS.
_COOKIE_JS = """
export default function ({ data }) {
  if (!data || !data.name) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${data.name}=${data.value}; Path=/; Max-Age=${data.max_age}; SameSite=Strict${secure}`;
}
"""
_cookie_writer = st.components.v2.component("pulse_session_cookie", js=_COOKIE_JS)


def metadata_engine() -> Engine:
    """The app metadata database (users and sessions live there)."""
    return _engine(get_settings().metadata_db_url)


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:  # keyed by URL: tests run apps on several data dirs
    return engine_for(get_settings())


def _write_cookie(value: str, max_age: int) -> None:
    _cookie_writer(data={"name": COOKIE, "value": value, "max_age": max_age}, key="pulse_cookie")


def gate(settings: Settings) -> Principal | None:
    """The signed-in person; otherwise draws the sign-in screen and returns None (the caller
    then shows no page)."""
    if settings.dashboard_auth == "oidc":
        return _oidc_gate(settings)
    user = _password_session()
    if user is not None:
        return user
    if st.session_state.pop(_CLEAR_COOKIE, False) or _cookie():
        _write_cookie("", 0)  # a stale or revoked token: let the browser forget it
    _password_form(settings)
    return None


def _cookie() -> str | None:
    """The session cookie the browser sent when this Streamlit session connected."""
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) and value else None  # AppTest has no real cookies


def _password_session() -> Principal | None:
    token = st.session_state.get(TOKEN_KEY)
    if token is None and SESSION_KEY in st.session_state:
        return current_user()  # set by server code (the app's tests), not by a browser
    if token is None and not st.session_state.get(_SIGNED_OUT):
        token = _cookie()
    if not token:
        return None
    # Checked on every run: a revoked session or a changed role applies at once.
    user = accounts.session_principal(metadata_engine(), token)
    if user is None:
        st.session_state.pop(TOKEN_KEY, None)
        st.session_state.pop(SESSION_KEY, None)
        return None
    st.session_state[TOKEN_KEY] = token
    st.session_state[SESSION_KEY] = user
    return user


def _frame(title: str, caption: str):
    """A narrow, centred card for the sign-in screen."""
    outer = st.container(horizontal_alignment="center")
    card = outer.container(border=True, width=420, key="sign_in_card")
    with card:
        st.image(str(_LOGO), width=48)
        st.subheader(title, anchor=False)
        st.caption(caption)
    return card


def _password_form(settings: Settings) -> None:
    card = _frame("Sign in to Pulse", "Dashboards for the fitness marketplace.")
    with card:
        if st.session_state.pop(_SIGNED_OUT, False):
            st.success("You are signed out.", icon=":material/logout:")
        with st.form("sign_in", border=False, enter_to_submit=True):
            username = st.text_input("Username", autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
        if not submitted:
            st.caption("No account yet? Ask a Pulse admin to add you.")
            return
        if not username.strip() or not password:
            st.error("Enter your username and password.", icon=":material/error:")
            return
        engine = metadata_engine()
        result = accounts.authenticate(engine, username, password)
        if isinstance(result, accounts.Refused):
            icon = ":material/timer:" if result.reason == "throttled" else ":material/error:"
            st.error(result.message, icon=icon)
            return
        token = accounts.create_session(engine, result.name, hours=settings.dashboard_session_hours)
        st.session_state[TOKEN_KEY] = token
        st.session_state[SESSION_KEY] = result
        st.session_state[_WRITE_COOKIE] = token
    st.rerun()


def sign_out() -> None:
    """End the session (server-side too) and forget the cookie. A button callback."""
    if get_settings().dashboard_auth == "oidc":
        st.session_state.pop(SESSION_KEY, None)
        st.logout()
        return
    accounts.revoke_session(metadata_engine(), st.session_state.pop(TOKEN_KEY, None))
    st.session_state.pop(SESSION_KEY, None)
    st.session_state[_CLEAR_COOKIE] = True
    st.session_state[_SIGNED_OUT] = True


# The account menu sits in the app's header row, left of Streamlit's own menu, instead of
# taking a row above every page's title (the header is fixed, so the menu is too).
_ACCOUNT_BAR_CSS = """<style>
.st-key-account_bar {
  position: fixed; top: 0.6rem; right: 3.5rem; width: auto !important; z-index: 999991;
}
.st-key-account_bar [data-testid="stPopoverButton"] { min-height: 2.25rem; padding: 0 0.75rem; }
</style>"""


def account_menu(user: Principal) -> None:
    """Who is signed in, with what role, and the Sign out button: top right of every page."""
    st.html(_ACCOUNT_BAR_CSS)
    bar = st.container(horizontal=True, horizontal_alignment="right", key="account_bar")
    if token := st.session_state.pop(_WRITE_COOKIE, None):  # just signed in: keep it
        with bar:
            _write_cookie(token, int(get_settings().dashboard_session_hours * 3600))
    with bar.popover(f"{user.name} · {user.role}", icon=":material/account_circle:"):
        st.caption(f"Signed in as **{user.name}** ({user.role}).")
        st.button(
            "Sign out",
            icon=":material/logout:",
            on_click=sign_out,
            key="sign_out",
            width="stretch",
        )


# ---- OIDC ---------------------------------------------------------------------------------------
def oidc_username(info: Mapping[str, Any]) -> str | None:
    """The users-table name of an OIDC identity: its email, else its preferred username; None
    when the provider gave neither in a form the table accepts."""
    for claim in ("email", "preferred_username"):
        value = info.get(claim)
        if isinstance(value, str) and value.strip():
            try:
                return accounts.normalize_username(value)
            except accounts.AccountError:
                continue
    return None


def oidc_principal(engine: Engine, info: Mapping[str, Any], default_role: Role) -> Principal | None:
    """The Principal of a signed-in OIDC identity: role from the users table, else
    ``default_role``."""
    name = oidc_username(info)
    if name is None:
        return None
    return Principal(name, accounts.role_for(engine, name, default_role))


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def _oidc_gate(settings: Settings) -> Principal | None:
    # .get: without an [auth] configuration (and in AppTest) st.user has no is_logged_in.
    logged_in = bool(st.user.get("is_logged_in", False))
    if SESSION_KEY in st.session_state and not logged_in:
        return current_user()  # set by server code (the app's tests)
    if not logged_in:
        card = _frame("Sign in to Pulse", "Sign in with your organisation's account.")
        with card:
            if not _oidc_configured():
                st.error(
                    "Single sign-on is switched on (PULSE_DASHBOARD_AUTH=oidc) but "
                    ".streamlit/secrets.toml has no [auth] section: add your provider there "
                    '(docs/dashboards.md, "Sign-in and roles") or unset PULSE_DASHBOARD_AUTH.',
                    icon=":material/error:",
                )
                return None
            st.button(
                "Sign in",
                type="primary",
                icon=":material/login:",
                on_click=st.login,
                width="stretch",
                key="oidc_sign_in",
            )
        return None
    engine = metadata_engine()
    user = oidc_principal(engine, st.user.to_dict(), settings.dashboard_oidc_default_role)
    if user is None:
        card = _frame("Sign-in not usable", "")
        with card:
            st.error(
                "Your provider did not send an email or username Pulse can use "
                f"({accounts.USERNAME_RULE}): ask an admin.",
                icon=":material/error:",
            )
            st.button("Sign out", on_click=st.logout, key="oidc_sign_out")
        return None
    if not st.session_state.get(_OIDC_RECORDED):
        accounts.record_sign_in(engine, user.name)
        st.session_state[_OIDC_RECORDED] = True
    st.session_state[SESSION_KEY] = user
    return user
