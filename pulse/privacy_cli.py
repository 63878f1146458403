"""``pulse privacy ...``: the privacy officer's commands (audit log; erasure, export, key rotation
and retention register here too). Heavy imports stay inside the commands."""

from __future__ import annotations

import datetime as dt

import click

from pulse.settings import Settings, SettingsError, get_settings


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def privacy() -> None:
    """Consent, erasure, export, audit and retention of personal data."""


@privacy.command("audit")
@click.option("--action", default=None, help="Only this action (e.g. erasure, consent_change).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="From this day.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the newest N entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit_command(action: str | None, since, limit: int | None, as_json: bool) -> None:
    """List the privacy audit log (append-only), oldest first."""
    import orjson

    from lake.audit import ACTIONS, read

    if action is not None and action not in ACTIONS:
        raise click.BadParameter(f"expected one of {', '.join(ACTIONS)}", param_hint="--action")
    rows = read(
        _settings(), action=action, since=since.replace(tzinfo=dt.UTC) if since else None
    ).to_pylist()
    if limit is not None:
        rows = rows[-limit:]
    if not rows:
        click.echo("the audit log is empty" + (f" for action {action}" if action else ""))
        return
    for row in rows:
        if as_json:
            click.echo(orjson.dumps(row, default=str).decode())
            continue
        subject = row["subject"] or "-"
        target = row["target"] or "-"
        count = "-" if row["rows"] is None else str(row["rows"])
        click.echo(
            f"{row['at']:%Y-%m-%d %H:%M:%S}Z  {row['action']:<18} {row['status']:<8} "
            f"rows={count:<8} actor={row['actor']} subject={subject} target={target}"
        )
