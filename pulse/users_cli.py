"""``pulse users ...``: who may sign in to the dashboards, with which role (core.accounts).

Exit codes: 0 done; 1 refused (duplicate or unknown user, the last admin, a password the rules
reject); 2 a usage error (e.g. an unknown role: the message lists the roles)."""

from __future__ import annotations

import datetime as dt

import click

from core.roles import ROLES
from core.settings import Settings, SettingsError, get_settings

_ROLE = click.Choice(ROLES, case_sensitive=False)


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _engine():
    from core import accounts  # noqa: F401  (declares the users and sessions tables)
    from core.metadata import engine_for

    return engine_for(_settings())


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if value else "never"


def _new_password(password: str | None) -> str:
    if password is not None:
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _run(action, *args):
    from core.accounts import AccountError

    try:
        return action(*args)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def users() -> None:
    """Dashboard users and their roles (viewer < analyst < admin)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=_ROLE, required=True, help="viewer, analyst or admin.")
@click.option(
    "--password",
    default=None,
    help="The password (asked for, hidden, when left out: a password on the command line "
    "stays in the shell's history).",
)
@click.option("--no-password", is_flag=True, help="No password: signs in through OIDC only.")
def add_command(name: str, role: str, password: str | None, no_password: bool) -> None:
    """Create a user who can sign in to the dashboards."""
    from core.accounts import add_user

    if no_password and password is not None:
        raise click.UsageError("give either --password or --no-password, not both")
    engine = _engine()
    secret = None if no_password else _new_password(password)
    user = _run(add_user, engine, name, role.lower(), secret)
    click.echo(f"added {user.username} ({user.role})")


@users.command("list")
def list_command() -> None:
    """List the users: name, role, created, last sign-in (UTC)."""
    from core.accounts import list_users

    rows = list_users(_engine())
    if not rows:
        click.echo("no users yet: add one with `pulse users add NAME --role admin`")
        return
    width = max(len("name"), *(len(u.username) for u in rows))
    click.echo(f"{'name':<{width}}  {'role':<7}  {'created':<16}  last sign-in")
    for user in rows:
        click.echo(
            f"{user.username:<{width}}  {user.role:<7}  {_when(user.created_at):<16}  "
            f"{_when(user.last_sign_in_at)}"
        )


@users.command("remove")
@click.argument("name")
def remove_command(name: str) -> None:
    """Delete a user and end their sessions (never the last admin)."""
    from core.accounts import normalize_username, remove_user

    _run(remove_user, _engine(), name)
    click.echo(f"removed {_run(normalize_username, name)}")


@users.command("role")
@click.argument("name")
@click.argument("role", type=_ROLE)
def role_command(name: str, role: str) -> None:
    """Change a user's role (applies to their open sessions at once)."""
    from core.accounts import set_role

    user = _run(set_role, _engine(), name, role.lower())
    click.echo(f"{user.username} is now {user.role}")


@users.command("password")
@click.argument("name")
@click.option("--password", default=None, help="The new password (asked for when left out).")
def password_command(name: str, password: str | None) -> None:
    """Set a user's password (signs them out everywhere)."""
    from core.accounts import get_user, normalize_username, set_password

    engine = _engine()
    username = _run(normalize_username, name)
    if get_user(engine, username) is None:  # before asking for a password nobody can use
        raise click.ClickException(f"no user {username!r}: see `pulse users list`")
    _run(set_password, engine, username, _new_password(password))
    click.echo(f"password of {username} changed; their sessions were ended")
