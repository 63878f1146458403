"""The people who may use Pulse's dashboards: users with a role and a password, and their
sign-in sessions. Tables on :data:`core.metadata.METADATA` (SQLite by default, PostgreSQL in
production, same code); the CLI (``pulse users ...``), the app's sign-in form and its Users page
all go through these functions.

- Passwords are stored only as argon2id hashes (argon2-cffi's RFC 9106 defaults), rehashed on
  sign-in when those defaults change.
- :func:`authenticate` takes as long for an unknown name as for a wrong password (it verifies
  against a dummy hash), and after :data:`FREE_FAILURES` failures in a row for a name it refuses
  further tries for a while, doubling each time (kept in the database, so every app process and
  the CLI share it).
- A session is an opaque random token handed to the browser; only its SHA-256 is stored. The
  role is read from the users table on every use, so a role change applies at once.
- There is always an admin: removing or demoting the last one is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.metadata import METADATA
from core.roles import Principal, Role, check_role

USERS = Table(
    "users",
    METADATA,
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    # None for people who only sign in through OIDC.
    Column("password_hash", String(255), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_sign_in_at", DateTime(timezone=True), nullable=True),
)

# Failed sign-ins by the name tried (known or not, so a refusal says nothing about whether
# the account exists). A row goes away at the next successful sign-in.
SIGN_IN_FAILURES = Table(
    "sign_in_failures",
    METADATA,
    Column("username", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", DateTime(timezone=True), nullable=True),
)

SESSIONS = Table(
    "user_sessions",
    METADATA,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

USERNAME_RULE = (
    "1–64 characters: lower-case letters, digits and . _ - + @ (starting with a letter or digit)"
)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._+@-]{0,63}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this bounds the work a request can cause

FREE_FAILURES = 5  # wrong passwords in a row before tries are throttled
FIRST_LOCK = dt.timedelta(seconds=30)  # then 60 s, 120 s, ... up to MAX_LOCK
MAX_LOCK = dt.timedelta(minutes=15)

_HASHER = PasswordHasher()  # argon2id
# Verified when the name is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A user-management request that cannot be done; the message says what to do instead."""


class UnknownUserError(AccountError):
    pass


class UserExistsError(AccountError):
    pass


class LastAdminError(AccountError):
    pass


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    created_at: dt.datetime
    updated_at: dt.datetime
    last_sign_in_at: dt.datetime | None
    has_password: bool


@dataclass(frozen=True)
class Refused:
    """Why a sign-in was refused. ``reason`` is ``"invalid"`` (the name or the password is
    wrong: deliberately not saying which) or ``"throttled"`` (too many failures: wait
    ``retry_after`` seconds)."""

    reason: str
    retry_after: float = 0.0

    @property
    def message(self) -> str:
        if self.reason == "throttled":
            wait = max(1, round(self.retry_after))
            unit = "second" if wait == 1 else "seconds"
            return f"Too many failed sign-ins for this username: try again in {wait} {unit}."
        return "Wrong username or password."


# ---- validation ---------------------------------------------------------------------------------
def normalize_username(username: str) -> str:
    """The stored form of a username (trimmed, lower case), or an AccountError saying the rule."""
    name = username.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise AccountError(f"invalid username {username!r}: use {USERNAME_RULE}")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters")
    return password


def _role(role: str) -> Role:
    try:
        return check_role(role)
    except ValueError as exc:
        raise AccountError(str(exc)) from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _user(row) -> User:
    return User(
        username=row.username,
        role=row.role,
        created_at=_utc(row.created_at),  # type: ignore[arg-type]
        updated_at=_utc(row.updated_at),  # type: ignore[arg-type]
        last_sign_in_at=_utc(row.last_sign_in_at),
        has_password=row.password_hash is not None,
    )


# ---- users --------------------------------------------------------------------------------------
def add_user(engine: Engine, username: str, role: str, password: str | None) -> User:
    """Create a user. ``password`` None: they can only sign in through OIDC."""
    name = normalize_username(username)
    role = _role(role)
    hashed = _HASHER.hash(check_password(password)) if password is not None else None
    now = _now()
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(USERS).values(
                    username=name,
                    role=role,
                    password_hash=hashed,
                    created_at=now,
                    updated_at=now,
                    last_sign_in_at=None,
                )
            )
    except IntegrityError:
        raise UserExistsError(
            f"user {name!r} already exists: change it with `pulse users role` or "
            "`pulse users password`"
        ) from None
    return get_user(engine, name)  # type: ignore[return-value]


def get_user(engine: Engine, username: str) -> User | None:
    try:
        name = normalize_username(username)
    except AccountError:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(USERS).where(USERS.c.username == name)).first()
    return _user(row) if row else None


def list_users(engine: Engine) -> list[User]:
    """Every user, by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(USERS).order_by(USERS.c.username)).all()
    return [_user(r) for r in rows]


def _existing(conn: Connection, username: str):
    name = normalize_username(username)
    row = conn.execute(select(USERS).where(USERS.c.username == name)).first()
    if row is None:
        raise UnknownUserError(f"no user {name!r}: see `pulse users list`")
    return row


def _refuse_if_last_admin(conn: Connection, row, doing: str) -> None:
    if row.role != "admin":
        return
    admins = conn.execute(
        select(func.count()).select_from(USERS).where(USERS.c.role == "admin")
    ).scalar_one()
    if admins <= 1:
        raise LastAdminError(
            f"cannot {doing} {row.username!r}: they are the only admin. Make another user "
            "admin first (`pulse users role NAME admin`)"
        )


def remove_user(engine: Engine, username: str) -> None:
    """Delete a user and their sessions (refused for the last admin)."""
    with engine.begin() as conn:
        row = _existing(conn, username)
        _refuse_if_last_admin(conn, row, "remove")
        conn.execute(delete(SESSIONS).where(SESSIONS.c.username == row.username))
        conn.execute(delete(USERS).where(USERS.c.username == row.username))


def set_role(engine: Engine, username: str, role: str) -> User:
    """Change a user's role (demoting the last admin is refused). Applies to their open
    sessions at once."""
    role = _role(role)
    with engine.begin() as conn:
        row = _existing(conn, username)
        if role != "admin":
            _refuse_if_last_admin(conn, row, f"make {role}")
        conn.execute(
            update(USERS)
            .where(USERS.c.username == row.username)
            .values(role=role, updated_at=_now())
        )
    return get_user(engine, row.username)  # type: ignore[return-value]


def set_password(engine: Engine, username: str, password: str) -> None:
    """Set a new password and sign the user out everywhere (a reset may follow a leak)."""
    hashed = _HASHER.hash(check_password(password))
    with engine.begin() as conn:
        row = _existing(conn, username)
        conn.execute(
            update(USERS)
            .where(USERS.c.username == row.username)
            .values(password_hash=hashed, updated_at=_now())
        )
        conn.execute(delete(SESSIONS).where(SESSIONS.c.username == row.username))
        conn.execute(delete(SIGN_IN_FAILURES).where(SIGN_IN_FAILURES.c.username == row.username))


def count_admins(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(USERS).where(USERS.c.role == "admin")
        ).scalar_one()


# ---- sign-in ------------------------------------------------------------------------------------
def lock_for(failures: int) -> dt.timedelta:
    """How long further tries wait after ``failures`` wrong passwords in a row."""
    if failures < FREE_FAILURES:
        return dt.timedelta(0)
    doublings = min(failures - FREE_FAILURES, 16)  # 30 s × 2**16 is well past the cap
    return min(FIRST_LOCK * 2**doublings, MAX_LOCK)


def authenticate(
    engine: Engine, username: str, password: str, *, now: dt.datetime | None = None
) -> Principal | Refused:
    """The signed-in Principal, or why not (:class:`Refused`). Records the sign-in time, or the
    failure towards throttling."""
    now = now or _now()
    try:
        name = normalize_username(username)
    except AccountError:
        _verify(_DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])  # as slow as a real try
        return Refused("invalid")
    with engine.connect() as conn:
        throttle = conn.execute(
            select(SIGN_IN_FAILURES).where(SIGN_IN_FAILURES.c.username == name)
        ).first()
        row = conn.execute(select(USERS).where(USERS.c.username == name)).first()
    locked_until = _utc(throttle.locked_until) if throttle else None
    if locked_until is not None and locked_until > now:
        return Refused("throttled", (locked_until - now).total_seconds())

    stored = row.password_hash if row is not None else None
    ok = _verify(stored or _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH]) and stored is not None
    with engine.begin() as conn:
        if not ok:
            failures = (throttle.failures if throttle else 0) + 1
            lock = lock_for(failures)
            values = {"failures": failures, "locked_until": now + lock if lock else None}
            if throttle:
                conn.execute(
                    update(SIGN_IN_FAILURES)
                    .where(SIGN_IN_FAILURES.c.username == name)
                    .values(**values)
                )
            else:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(SIGN_IN_FAILURES).values(username=name, **values))
                except IntegrityError:  # another process recorded one meanwhile
                    pass
            return Refused("invalid")
        conn.execute(delete(SIGN_IN_FAILURES).where(SIGN_IN_FAILURES.c.username == name))
        changes: dict[str, object] = {"last_sign_in_at": now}
        if _HASHER.check_needs_rehash(stored):
            changes["password_hash"] = _HASHER.hash(password)
        conn.execute(update(USERS).where(USERS.c.username == name).values(**changes))
    return Principal(name, row.role)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def record_sign_in(engine: Engine, username: str) -> None:
    """Note a sign-in made elsewhere (OIDC) as the user's last sign-in, if they have a row."""
    try:
        name = normalize_username(username)
    except AccountError:
        return
    with engine.begin() as conn:
        conn.execute(update(USERS).where(USERS.c.username == name).values(last_sign_in_at=_now()))


def role_for(engine: Engine, username: str, default: Role) -> Role:
    """The role of ``username`` from the users table; ``default`` for someone not in it (the
    OIDC sign-in: the provider vouches for who they are, the table for what they may do)."""
    user = get_user(engine, username)
    return user.role if user else _role(default)


# ---- sessions -----------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(
    engine: Engine, username: str, *, hours: float, now: dt.datetime | None = None
) -> str:
    """A new session for an existing user; returns its token (shown once: only its SHA-256 is
    stored). Expired sessions are swept on the way."""
    now = now or _now()
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        row = _existing(conn, username)
        conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at <= now))
        conn.execute(
            insert(SESSIONS).values(
                token_hash=_token_hash(token),
                username=row.username,
                created_at=now,
                expires_at=now + dt.timedelta(hours=hours),
            )
        )
    return token


def session_principal(
    engine: Engine, token: str | None, *, now: dt.datetime | None = None
) -> Principal | None:
    """Who a session token belongs to, with their current role; None when it is unknown,
    revoked, expired, or its user is gone."""
    if not isinstance(token, str) or not token or len(token) > 256:
        return None
    now = now or _now()
    with engine.connect() as conn:
        row = conn.execute(
            select(SESSIONS.c.expires_at, USERS.c.username, USERS.c.role)
            .join(USERS, USERS.c.username == SESSIONS.c.username)
            .where(SESSIONS.c.token_hash == _token_hash(token))
        ).first()
    if row is None or _utc(row.expires_at) <= now:  # type: ignore[operator]
        return None
    return Principal(row.username, row.role)


def revoke_session(engine: Engine, token: str | None) -> None:
    """End a session (sign-out). Unknown tokens are ignored."""
    if not token:
        return
    with engine.begin() as conn:
        conn.execute(delete(SESSIONS).where(SESSIONS.c.token_hash == _token_hash(token)))


__all__ = [
    "AccountError",
    "LastAdminError",
    "Refused",
    "UnknownUserError",
    "User",
    "UserExistsError",
    "add_user",
    "authenticate",
    "count_admins",
    "create_session",
    "get_user",
    "list_users",
    "remove_user",
    "revoke_session",
    "role_for",
    "session_principal",
    "set_password",
    "set_role",
]
