"""Sign-in and roles in a real browser (one Streamlit server for the module, on a copy of the
shared demo's data with one open alert): each role signs in and sees its pages; a wrong password
is refused; a viewer is refused an acknowledge with the clear message and the alert is
unchanged; the admin adds a user on the Users page and that user signs in; a reload keeps the
session; signing out returns to the form."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest
from browser_harness import (
    ACCOUNT_MENU,
    DESKTOP,
    PHONE,
    SESSION_COOKIE,
    SIGN_IN_FORM,
    TEST_USERS,
    StreamlitServer,
    assert_no_horizontal_scroll,
    open_page,
    run_streamlit,
    sign_in,
    streamlit_env,
    submit_sign_in,
    wait_until_ready,
)
from playwright.sync_api import Page, expect

from core import accounts
from core.metadata import engine_for
from core.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(demo_run, tmp_path_factory) -> Iterator[tuple[StreamlitServer, Settings, int]]:
    root = tmp_path_factory.mktemp("access")
    data = root / "data"
    shutil.copytree(demo_run[0], data, ignore=shutil.ignore_patterns("dbt"))
    settings = Settings(data_dir=data)
    alert_id = _open_alert(settings)
    env = streamlit_env(data, {"PULSE_COLLECTOR_PORT": "9"})
    with run_streamlit(env, log_path=root / "streamlit.log") as server:
        yield server, settings, alert_id


def _open_alert(settings: Settings) -> int:
    """One open alert in the copy's store, for the acknowledge test."""
    from orchestration.alerting.store import raise_alert

    alert_id = raise_alert(
        engine_for(settings),
        severity="warning",
        source="access-test-alert",
        message="An alert for the access tests",
    )
    assert alert_id is not None
    return alert_id


def _menu_label(page: Page) -> str:
    return page.locator(ACCOUNT_MENU).inner_text().strip()


def _session_cookie_gone(page: Page, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}:
            return True
        time.sleep(0.05)
    return False


def _nav_text(page: Page) -> str:
    return page.get_by_test_id("stHeader").inner_text()


@pytest.mark.parametrize("role", ["viewer", "analyst", "admin"])
def test_each_role_signs_in_and_sees_its_pages(served, page: Page, role):
    server, _, _ = served
    user = TEST_USERS[role]
    watch = open_page(page, server.url, user=None)
    sign_in(page, server.url, user.name, user.password)
    assert f"{user.name} · {role}" in _menu_label(page)
    expect(page.locator("h1").first).to_be_visible()  # the default page ran
    assert ("Admin" in _nav_text(page)) == (role == "admin")
    watch.assert_clean()


def test_a_wrong_password_is_refused(served, page: Page, screenshot):
    server, _, _ = served
    watch = open_page(page, server.url, user=None)
    expect(page.locator(SIGN_IN_FORM).get_by_label("Username")).to_be_visible()
    screenshot(page, "sign-in-desktop")
    submit_sign_in(page, TEST_USERS["viewer"].name, "not-the-password")
    expect(page.locator(SIGN_IN_FORM).get_by_test_id("stAlertContentError")).to_contain_text(
        "Wrong username or password."
    )
    assert not page.locator(ACCOUNT_MENU).count()
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}
    page.set_viewport_size(PHONE)
    assert_no_horizontal_scroll(page)
    screenshot(page, "sign-in-refused-phone")
    watch.assert_clean()


def test_a_viewer_is_refused_acknowledging_an_alert_and_it_stays_open(served, page: Page):
    from orchestration.alerting.store import get_alert

    server, settings, alert_id = served
    watch = open_page(page, server.url_for("system"), user="viewer", timeout=60)
    alert = page.locator(f".st-key-system_alert_{alert_id}")
    expect(alert).to_contain_text("access-test-alert")
    alert.get_by_role("button", name="Acknowledge").click()
    expect(alert.get_by_test_id("stAlertContentError")).to_contain_text(
        "Your role (viewer) can view but not edit alerts: ask an admin for the analyst role."
    )
    view = get_alert(engine_for(settings), alert_id)
    assert view.alert.status == "open" and view.acknowledged_by is None
    watch.assert_clean()


def test_the_viewer_does_not_get_the_users_page(served, page: Page):
    server, _, _ = served
    watch = open_page(page, server.url, user="viewer")
    assert "Admin" not in _nav_text(page)
    watch.ignore(r"users")  # the deep link below is answered "page not found", by design
    open_page(page, server.url_for("users"), user="viewer")
    assert not page.get_by_text("Add a user").count()
    assert not page.locator(".st-key-users_table").count()


def test_the_admin_adds_a_user_who_can_then_sign_in(served, page: Page, context, screenshot):
    server, settings, _ = served
    watch = open_page(page, server.url_for("users"), timeout=60)
    form = page.get_by_test_id("stForm").filter(has_text="Add user")
    form.get_by_label("Username", exact=True).fill("nadia")
    form.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="analyst").click()
    form.get_by_label("Password", exact=True).fill("nadia-password-1")
    form.get_by_role("button", name="Add user").click()
    expect(page.get_by_text("Added nadia (analyst): they can sign in now.")).to_be_visible()
    wait_until_ready(page)
    expect(page.get_by_test_id("stDataFrame").first).to_contain_text("nadia")
    assert accounts.get_user(engine_for(settings), "nadia").role == "analyst"
    screenshot(page, "users-desktop")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)  # the table lays out again at the new width
    assert_no_horizontal_scroll(page)
    screenshot(page, "users-phone")
    watch.assert_clean()

    other = context.browser.new_context(viewport=DESKTOP)
    try:
        second = other.new_page()
        sign_in(second, server.url, "nadia", "nadia-password-1")
        assert "nadia · analyst" in _menu_label(second)
    finally:
        other.close()
    assert accounts.get_user(engine_for(settings), "nadia").last_sign_in_at is not None


def test_a_reload_keeps_the_session_and_signing_out_returns_to_the_form(served, page: Page):
    server, settings, _ = served
    user = TEST_USERS["analyst"]
    watch = open_page(page, server.url_for("revenue"), user="analyst", timeout=60)
    page.reload()
    wait_until_ready(page, 60)
    assert f"{user.name} · analyst" in _menu_label(page)
    assert page.url.endswith("/revenue")

    token = next(c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    page.locator(ACCOUNT_MENU).get_by_role("button").first.click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(SIGN_IN_FORM)).to_be_visible()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    assert accounts.session_principal(engine_for(settings), token) is None  # revoked
    assert _session_cookie_gone(page)

    page.reload()  # the old cookie no longer opens anything
    wait_until_ready(page)
    expect(page.locator(SIGN_IN_FORM)).to_be_visible()
    assert not page.locator(ACCOUNT_MENU).count()
    watch.assert_clean()


def test_a_deep_link_opens_after_sign_in(served, page: Page):
    server, _, _ = served
    user = TEST_USERS["viewer"]
    watch = open_page(page, server.url_for("funnels"), user=None, timeout=60)
    expect(page.locator(SIGN_IN_FORM)).to_be_visible()
    submit_sign_in(page, user.name, user.password)
    expect(page.locator(ACCOUNT_MENU)).to_be_visible()
    wait_until_ready(page, 60)
    assert page.url.endswith("/funnels")
    expect(page.locator("h1").first).to_contain_text("Funnel")
    watch.assert_clean()
