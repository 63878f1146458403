"""Users, passwords, throttling and sessions (core.accounts) on SQLite and on the PostgreSQL
server at 127.0.0.1 (a database of its own per test, dropped afterwards): the same code."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core import accounts
from core.accounts import (
    SESSIONS,
    USERS,
    AccountError,
    LastAdminError,
    Refused,
    UnknownUserError,
    UserExistsError,
)
from core.roles import Principal

PASSWORD = "correct horse battery"


@pytest.fixture
def engine(metadata_engine):
    """SQLite and PostgreSQL (tests/conftest.py)."""
    return metadata_engine


def test_a_user_signs_in_with_their_password_and_the_hash_is_argon2id(engine):
    user = accounts.add_user(engine, "Ana", "analyst", PASSWORD)
    assert (user.username, user.role, user.has_password) == ("ana", "analyst", True)
    assert user.last_sign_in_at is None

    assert accounts.authenticate(engine, "ana", PASSWORD) == Principal("ana", "analyst")
    assert accounts.authenticate(engine, " ANA ", PASSWORD) == Principal("ana", "analyst")
    assert accounts.get_user(engine, "ana").last_sign_in_at is not None
    with engine.connect() as conn:
        stored = conn.execute(select(USERS.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(engine):
    accounts.add_user(engine, "ana", "viewer", PASSWORD)
    wrong = accounts.authenticate(engine, "ana", "not the password")
    unknown = accounts.authenticate(engine, "nobody", PASSWORD)
    invalid_name = accounts.authenticate(engine, "no such name!", PASSWORD)
    assert wrong == unknown == invalid_name == Refused("invalid")
    assert wrong.message == "Wrong username or password."


def test_repeated_failures_throttle_that_username_until_the_lock_passes(engine):
    accounts.add_user(engine, "ana", "viewer", PASSWORD)
    accounts.add_user(engine, "bo", "viewer", PASSWORD)
    start = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    for _ in range(accounts.FREE_FAILURES):
        assert accounts.authenticate(engine, "ana", "wrong", now=start).reason == "invalid"
    # Now even the right password waits: a guesser cannot tell a lock from a wrong guess.
    refused = accounts.authenticate(engine, "ana", PASSWORD, now=start)
    assert refused.reason == "throttled" and refused.retry_after == 30
    assert "try again in 30 seconds" in refused.message
    assert accounts.authenticate(engine, "bo", PASSWORD, now=start) == Principal("bo", "viewer")

    later = start + dt.timedelta(seconds=31)
    assert accounts.authenticate(engine, "ana", "wrong", now=later).reason == "invalid"
    assert accounts.authenticate(engine, "ana", PASSWORD, now=later).retry_after == 60
    much_later = later + dt.timedelta(seconds=61)
    assert accounts.authenticate(engine, "ana", PASSWORD, now=much_later) == Principal(
        "ana", "viewer"
    )
    # A success clears the count: the next wrong password is not throttled.
    assert accounts.authenticate(engine, "ana", "wrong", now=much_later).reason == "invalid"
    assert accounts.authenticate(engine, "ana", PASSWORD, now=much_later) == Principal(
        "ana", "viewer"
    )


def test_unknown_names_are_throttled_too(engine):
    for _ in range(accounts.FREE_FAILURES):
        accounts.authenticate(engine, "ghost", "guess")
    assert accounts.authenticate(engine, "ghost", "guess").reason == "throttled"


def test_the_lock_doubles_up_to_fifteen_minutes():
    assert accounts.lock_for(4) == dt.timedelta(0)
    assert accounts.lock_for(5) == dt.timedelta(seconds=30)
    assert accounts.lock_for(7) == dt.timedelta(seconds=120)
    assert accounts.lock_for(50) == dt.timedelta(minutes=15)


def test_bad_input_says_what_to_fix(engine):
    with pytest.raises(AccountError, match="lower-case letters"):
        accounts.add_user(engine, "ana smith", "viewer", PASSWORD)
    with pytest.raises(AccountError, match="choose one of viewer, analyst, admin"):
        accounts.add_user(engine, "ana", "owner", PASSWORD)
    with pytest.raises(AccountError, match="at least 8 characters"):
        accounts.add_user(engine, "ana", "viewer", "short")
    accounts.add_user(engine, "ana", "viewer", PASSWORD)
    with pytest.raises(UserExistsError, match="'ana' already exists"):
        accounts.add_user(engine, "ANA", "admin", PASSWORD)
    with pytest.raises(UnknownUserError, match="no user 'bo'"):
        accounts.set_role(engine, "bo", "admin")


def test_the_last_admin_can_be_neither_removed_nor_demoted(engine):
    accounts.add_user(engine, "root", "admin", PASSWORD)
    with pytest.raises(LastAdminError, match="only admin"):
        accounts.remove_user(engine, "root")
    with pytest.raises(LastAdminError, match="only admin"):
        accounts.set_role(engine, "root", "analyst")
    accounts.add_user(engine, "ana", "viewer", PASSWORD)
    accounts.set_role(engine, "ana", "admin")
    accounts.set_role(engine, "root", "viewer")  # another admin exists now
    assert [(u.username, u.role) for u in accounts.list_users(engine)] == [
        ("ana", "admin"),
        ("root", "viewer"),
    ]
    accounts.remove_user(engine, "root")
    assert [u.username for u in accounts.list_users(engine)] == ["ana"]


def test_a_session_token_is_stored_hashed_and_follows_the_users_role(engine):
    accounts.add_user(engine, "ana", "viewer", PASSWORD)
    token = accounts.create_session(engine, "ana", hours=1)
    assert accounts.session_principal(engine, token) == Principal("ana", "viewer")
    with engine.connect() as conn:
        stored = conn.execute(select(SESSIONS.c.token_hash)).scalar_one()
    assert token not in stored and len(stored) == 64

    accounts.set_role(engine, "ana", "analyst")
    assert accounts.session_principal(engine, token) == Principal("ana", "analyst")
    assert accounts.session_principal(engine, token + "x") is None
    assert accounts.session_principal(engine, None) is None

    accounts.revoke_session(engine, token)
    assert accounts.session_principal(engine, token) is None


def test_a_session_expires(engine):
    accounts.add_user(engine, "ana", "viewer", PASSWORD)
    start = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    token = accounts.create_session(engine, "ana", hours=2, now=start)
    assert accounts.session_principal(engine, token, now=start + dt.timedelta(hours=1.9))
    assert accounts.session_principal(engine, token, now=start + dt.timedelta(hours=2)) is None


def test_a_password_reset_or_removal_ends_the_users_sessions(engine):
    accounts.add_user(engine, "root", "admin", PASSWORD)
    accounts.add_user(engine, "ana", "viewer", PASSWORD)
    token = accounts.create_session(engine, "ana", hours=1)
    accounts.set_password(engine, "ana", "a new long password")
    assert accounts.session_principal(engine, token) is None
    assert accounts.authenticate(engine, "ana", PASSWORD) == Refused("invalid")
    assert accounts.authenticate(engine, "ana", "a new long password") == Principal("ana", "viewer")

    token = accounts.create_session(engine, "ana", hours=1)
    accounts.remove_user(engine, "ana")
    assert accounts.session_principal(engine, token) is None


def test_oidc_people_get_their_tables_role_or_the_default(engine):
    accounts.add_user(engine, "ana@example.com", "analyst", None)
    assert accounts.role_for(engine, "Ana@Example.com", "viewer") == "analyst"
    assert accounts.role_for(engine, "bo@example.com", "viewer") == "viewer"
    # No password: such a user cannot use the password form.
    assert accounts.authenticate(engine, "ana@example.com", "") == Refused("invalid")
