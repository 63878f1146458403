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


@privacy.command("rotate-key")
@click.option(
    "--generate-to",
    "generate_to",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write a fresh random key to this new file (mode 0600) and stop: step 1 of a rotation.",
)
def rotate_key_command(generate_to: str | None) -> None:
    """Rotate the PII pseudonymization key (docs/privacy.md, "Key rotation").

    Step 1: ``--generate-to FILE`` writes a new key. Step 2: deploy it as PULSE_PII_HMAC_KEY with
    the old key first in PULSE_PII_HMAC_PREVIOUS_KEYS and restart the collectors. Step 3: run this
    command without options: it checks the deployed keys and records the rotation in the audit log
    (key ids only; a key is never printed or logged).
    """
    from lake.audit import AuditEntry, read, record
    from lake.privacy import Keyring, key_id

    if generate_to is not None:
        import os
        import secrets

        new_key = secrets.token_urlsafe(32)
        try:
            fd = os.open(generate_to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise click.ClickException(f"{generate_to} exists; choose a new file") from None
        with os.fdopen(fd, "w") as out:
            out.write(new_key + "\n")
        click.echo(
            f"wrote a new key (id {key_id(new_key.encode())}) to {generate_to}. Next: set "
            "PULSE_PII_HMAC_KEY to it, put the current key first in PULSE_PII_HMAC_PREVIOUS_KEYS, "
            "restart the collectors, then run `pulse privacy rotate-key` to record the rotation."
        )
        return

    settings = _settings()
    keys = Keyring.from_settings(settings)
    if not keys.previous:
        raise click.ClickException(
            "no previous key is configured: deploy the new key as PULSE_PII_HMAC_KEY and list the "
            "old one in PULSE_PII_HMAC_PREVIOUS_KEYS first (see docs/privacy.md)"
        )
    done = read(settings, action="key_rotation").to_pylist()
    if done and (_json_or_none(done[-1]["details"]) or {}).get("key_id") == keys.current_id:
        click.echo(f"the rotation to key {keys.current_id} is already recorded; nothing to do")
        return
    record(
        settings,
        AuditEntry(
            action="key_rotation",
            target="PULSE_PII_HMAC_KEY",
            details={"key_id": keys.current_id, "previous_key_ids": keys.previous_ids},
        ),
    )
    click.echo(
        f"recorded the rotation to key {keys.current_id} "
        f"(previous: {', '.join(keys.previous_ids)}) in the audit log"
    )


def _json_or_none(text: str | None) -> dict | None:
    import orjson

    return orjson.loads(text) if text else None
