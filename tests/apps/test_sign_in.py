"""The app's gate (AppTest of apps/streamlit/app.py): only the sign-in form until a user signs
in; wrong passwords and throttling answered on the form; the role decides the pages; with
PULSE_DASHBOARD_AUTH=oidc the provider's sign-in replaces the form. The real browser (cookies,
reloads, the Users page) is in test_access_in_browser.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apps.streamlit.auth import SESSION_KEY
from apps.streamlit.navigation import pages_for
from apps.streamlit.sign_in import TOKEN_KEY, oidc_principal
from core import accounts
from core.metadata import engine_for
from core.roles import Principal
from core.settings import get_settings

APP = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "app.py")
PASSWORD = "viewer-password-1"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PULSE_COLLECTOR_PORT", "9")
    monkeypatch.delenv("PULSE_METADATA_URL", raising=False)
    monkeypatch.delenv("PULSE_DASHBOARD_AUTH", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    accounts.add_user(engine_for(settings), "vera", "viewer", PASSWORD)
    yield settings
    get_settings.cache_clear()


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60).run()


def _sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return next(b for b in at.button if b.label == "Sign in").click().run()


def test_only_the_sign_in_form_shows_before_sign_in(settings):
    at = _app()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.title  # no page ran
    assert SESSION_KEY not in at.session_state


def test_a_wrong_password_is_refused_without_saying_which_part(settings):
    at = _sign_in(_app(), "vera", "not-her-password")
    assert [e.value for e in at.error] == ["Wrong username or password."]
    at = _sign_in(at, "nobody", PASSWORD)
    assert [e.value for e in at.error] == ["Wrong username or password."]
    assert SESSION_KEY not in at.session_state


def test_repeated_failures_are_throttled_with_a_message(settings):
    at = _app()
    for _ in range(accounts.FREE_FAILURES):
        at = _sign_in(at, "vera", "wrong-password")
    at = _sign_in(at, "vera", PASSWORD)
    assert [e.value for e in at.error] == [
        "Too many failed sign-ins for this username: try again in 30 seconds."
    ]


def test_signing_in_opens_the_pages_with_a_server_side_session(settings):
    at = _sign_in(_app(), "Vera", PASSWORD)
    assert not at.exception
    assert at.session_state[SESSION_KEY] == Principal("vera", "viewer")
    token = at.session_state[TOKEN_KEY]
    engine = engine_for(settings)
    assert accounts.session_principal(engine, token) == Principal("vera", "viewer")
    assert not any(t.label == "Username" for t in at.text_input)
    assert at.title  # the default page ran

    # A role change applies on the next rerun; a revoked session returns to the form.
    accounts.set_role(engine, "vera", "analyst")
    at.run()
    assert at.session_state[SESSION_KEY] == Principal("vera", "analyst")
    accounts.revoke_session(engine, token)
    at.run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_each_role_sees_only_the_pages_it_may_use():
    viewer = {p.title for p in pages_for(Principal("v", "viewer"))}
    admin = {p.title for p in pages_for(Principal("a", "admin"))}
    analyst = {p.title for p in pages_for(Principal("n", "analyst"))}
    admin_only = {"Users", "Adoption"}
    assert not admin_only & viewer and not admin_only & analyst
    assert admin == viewer | admin_only


def test_the_users_page_refuses_a_non_admin(settings):
    from app_users import as_user

    page = str(Path(APP).parent / "views" / "users.py")
    at = as_user(AppTest.from_file(page, default_timeout=60), "analyst").run()
    assert [e.value for e in at.error] == [
        "Your role (analyst) cannot manage users: it needs the admin role."
    ]
    assert not at.text_input  # no form to add a user


def test_with_oidc_the_providers_sign_in_replaces_the_form(settings, monkeypatch):
    monkeypatch.setenv("PULSE_DASHBOARD_AUTH", "oidc")
    get_settings.cache_clear()
    at = _app()
    assert not at.exception
    assert not at.text_input  # no password form
    # No provider configured here: the screen says what to add, rather than a broken button.
    assert "has no [auth] section" in at.error[0].value


def test_an_oidc_identity_gets_its_role_from_the_users_table_else_the_default(settings):
    engine = engine_for(settings)
    accounts.add_user(engine, "ana@example.com", "analyst", None)
    ana = {"email": "Ana@Example.com", "name": "Ana", "is_logged_in": True}
    assert oidc_principal(engine, ana, "viewer") == Principal("ana@example.com", "analyst")
    bo = {"email": "bo@example.com"}
    assert oidc_principal(engine, bo, "viewer") == Principal("bo@example.com", "viewer")
    assert oidc_principal(engine, {"preferred_username": "cy"}, "analyst") == Principal(
        "cy", "analyst"
    )
    assert oidc_principal(engine, {"sub": "12345"}, "viewer") is None  # nothing usable
