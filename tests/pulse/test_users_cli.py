"""``pulse users ...`` through click's CliRunner against a temporary metadata database."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from core import accounts
from core.metadata import engine_for
from core.roles import Principal
from pulse.cli import main

PASSWORD = "correct horse battery"


@pytest.fixture
def run(pulse_settings):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, ["users", *args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def engine(pulse_settings):
    return engine_for(pulse_settings)


def test_add_with_a_password_then_sign_in(run, engine):
    result = run("add", "ana", "--role", "analyst", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.output == "added ana (analyst)\n"
    assert accounts.authenticate(engine, "ana", PASSWORD) == Principal("ana", "analyst")


def test_add_without_a_password_asks_twice_and_hides_it(run, engine):
    result = run("add", "bo", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat for confirmation:" in result.output
    assert PASSWORD not in result.output
    assert accounts.authenticate(engine, "bo", PASSWORD) == Principal("bo", "viewer")


def test_mismatched_confirmation_asks_again(run, engine):
    result = run(
        "add", "bo", "--role", "viewer", input=f"{PASSWORD}\nother one!\n{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output


def test_an_unknown_role_is_a_usage_error_that_lists_the_roles(run):
    result = run("add", "ana", "--role", "owner", "--password", PASSWORD)
    assert result.exit_code == 2
    assert "'owner' is not one of 'viewer', 'analyst', 'admin'" in result.output


def test_duplicate_and_unknown_users_and_bad_passwords_exit_1_with_the_reason(run):
    assert run("add", "ana", "--role", "admin", "--password", PASSWORD).exit_code == 0
    dup = run("add", "ANA", "--role", "viewer", "--password", PASSWORD)
    assert dup.exit_code == 1 and "user 'ana' already exists" in dup.output
    short = run("add", "bo", "--role", "viewer", "--password", "short")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    for args in (("remove", "zed"), ("role", "zed", "admin"), ("password", "zed")):
        result = run(*args)
        assert result.exit_code == 1 and "no user 'zed': see `pulse users list`" in result.output


def test_list_shows_name_role_created_and_last_sign_in(run, engine):
    assert run("list").output.startswith("no users yet")
    run("add", "ana", "--role", "admin", "--password", PASSWORD)
    run("add", "bo", "--role", "viewer", "--password", PASSWORD)
    accounts.authenticate(engine, "bo", PASSWORD)
    lines = run("list").output.splitlines()
    assert lines[0].split() == ["name", "role", "created", "last", "sign-in"]
    assert lines[1].split()[:2] == ["ana", "admin"] and lines[1].endswith("never")
    assert lines[2].split()[:2] == ["bo", "viewer"] and not lines[2].endswith("never")


def test_role_password_and_remove(run, engine):
    run("add", "ana", "--role", "admin", "--password", PASSWORD)
    run("add", "bo", "--role", "viewer", "--password", PASSWORD)
    assert run("role", "bo", "ANALYST").output == "bo is now analyst\n"
    changed = run("password", "bo", input="a brand new secret\na brand new secret\n")
    assert changed.exit_code == 0 and "sessions were ended" in changed.output
    assert accounts.authenticate(engine, "bo", "a brand new secret") == Principal("bo", "analyst")
    assert run("remove", "bo").output == "removed bo\n"
    assert [u.username for u in accounts.list_users(engine)] == ["ana"]


def test_the_last_admin_stays(run):
    run("add", "ana", "--role", "admin", "--password", PASSWORD)
    for args in (("remove", "ana"), ("role", "ana", "viewer")):
        result = run(*args)
        assert result.exit_code == 1 and "they are the only admin" in result.output


def test_a_single_sign_on_user_has_no_password(run, engine):
    result = run("add", "ana@example.com", "--role", "admin", "--no-password")
    assert result.exit_code == 0, result.output
    assert accounts.get_user(engine, "ana@example.com").has_password is False
    both = run("add", "bo", "--role", "viewer", "--password", PASSWORD, "--no-password")
    assert both.exit_code == 2 and "not both" in both.output
