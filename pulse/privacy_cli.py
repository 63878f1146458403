"""``pulse privacy ...``: the privacy officer's commands (audit log; erasure, export, key rotation
and retention register here too). Heavy imports stay inside the commands.

Exit codes of `erase`: 0 erased (or nothing left to erase), 1 failed (verification found traces,
or the erasure could not run now: warehouse locked, unflushed WAL), 3 the user is unknown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from core.settings import Settings, SettingsError, get_settings


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


EXIT_FAILED = 1
EXIT_NOT_FOUND = 3


def _valid_user(user_id: str) -> str:
    from lake.privacy_ops.identity import validate_user_id

    try:
        return validate_user_id(user_id)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--user") from None


@privacy.command("erase")
@click.option("--user", "user_id", required=True, help="The user id to erase, as the app sends it.")
@click.option(
    "--rederive/--no-rederive",
    default=True,
    show_default=True,
    help="Rebuild the dbt models and republish gold afterwards, so aggregates no longer count "
    "the user.",
)
def erase_command(user_id: str, rederive: bool) -> None:
    """Erase a user from every table, file and retained version, then verify (right to be
    forgotten). Rows removed per table are printed; the request and the audit log name the user
    only by a keyed hash."""
    from lake.privacy_ops.erasure import erase_user
    from lake.privacy_ops.files import UnflushedEvents
    from lake.privacy_ops.warehouse import WarehouseLocked

    settings = _settings()
    user_id = _valid_user(user_id)
    try:
        result = erase_user(settings, user_id, progress=lambda m: click.echo(f"  {m}"))
    except (WarehouseLocked, UnflushedEvents) as exc:
        click.echo(f"erasure not run: {exc}", err=True)
        raise SystemExit(EXIT_FAILED) from None
    click.echo(f"request {result.request_id}: {result.status}")
    if result.rows_removed:
        click.echo("rows removed:")
        for target, rows in sorted(result.rows_removed.items()):
            click.echo(f"  {rows:>10,}  {target}")
    for table, stats in sorted(result.history.items()):
        click.echo(
            f"  history purged {table}: {stats['vacuumed_files']} old file(s) vacuumed, "
            f"{stats['log_files_removed']} log entr(ies) dropped below a checkpoint, "
            f"{stats['stray_files_removed']} stray file(s) removed"
        )
    click.echo(
        f"removal took {result.removal_seconds:.1f} s, verification {result.verify_seconds:.1f} s"
    )
    if result.findings:
        click.echo("VERIFICATION FAILED: still found in", err=True)
        for finding in result.findings:
            click.echo(f"  {finding.path}: {finding.what}", err=True)
        raise SystemExit(EXIT_FAILED)
    click.echo("verified: no file of the data dir holds the user's id, linked ids or PII tokens")
    if result.status == "not_found":
        click.echo("no data held about this user: nothing to erase (unknown user id?)", err=True)
        raise SystemExit(EXIT_NOT_FOUND)
    if not result.rows_removed:
        click.echo("nothing left to erase: this user was already erased")
        return
    if not rederive:
        click.echo(
            "aggregates were NOT re-derived (--no-rederive): run `pulse materialize` so the marts "
            "and the gold publication stop counting the user"
        )
        return
    _rederive(settings, result.affected_dates)


def _rederive(settings: Settings, dates) -> None:
    import time

    from orchestration.definitions import build_defs
    from orchestration.materialize import rederive

    click.echo(
        "re-deriving aggregates: dbt models and the gold publication"
        + (f" (event dates {dates[0]}..{dates[1]})" if dates else "")
    )
    started = time.monotonic()
    ok = rederive(settings, dates, definitions=build_defs)
    click.echo(
        f"re-derivation {'succeeded' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s"
    )
    if not ok:
        click.echo(
            "the erasure itself is complete and verified; run `pulse materialize` again to "
            "rebuild the aggregates",
            err=True,
        )
        raise SystemExit(EXIT_FAILED)


@privacy.command("export")
@click.option("--user", "user_id", required=True, help="The user id, as the app sends it.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON here (default: standard output).",
)
def export_command(user_id: str, out) -> None:
    """Everything held about a user as JSON (right of access); audited."""
    from lake.privacy_ops.export import export_user, write_export
    from lake.privacy_ops.warehouse import WarehouseLocked

    user_id = _valid_user(user_id)
    try:
        document = export_user(_settings(), user_id)
    except WarehouseLocked as exc:
        raise click.ClickException(str(exc)) from None
    data = write_export(document, out)
    if out is None:
        click.echo(data.decode())
    else:
        click.echo(
            f"wrote {document['rows']} row(s) from {len(document['tables'])} table(s) to {out}"
        )
    if not document["tables"]:
        click.echo("no data held about this user (unknown user id?)", err=True)
        raise SystemExit(EXIT_NOT_FOUND)


@privacy.command("retention")
@click.option(
    "--dry-run", is_flag=True, help="Show what would be archived and deleted; change nothing."
)
@click.option(
    "--now",
    "as_of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Enforce as of this day (UTC) instead of today.",
)
@click.option(
    "--policy-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Policy file (default: PULSE_RETENTION_POLICY_FILE or lake/retention.yaml).",
)
@click.option("--json", "as_json", is_flag=True, help="The whole report as one JSON object.")
def retention_command(dry_run: bool, as_of, policy_file: Path | None, as_json: bool) -> None:
    """Enforce the retention policies: archive, delete and vacuum expired partitions.

    Every archive and delete is appended to the audit log and the run to
    system/retention_runs. Exits with status 1 if a partition could not be removed.
    """
    import orjson

    from lake.retention.enforce import enforce
    from lake.retention.policy import RetentionPolicyError

    settings = _settings()
    try:
        report = enforce(
            settings,
            policy_path=policy_file,
            now=as_of.replace(tzinfo=dt.UTC) if as_of else None,
            dry_run=dry_run,
        )
    except RetentionPolicyError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(orjson.dumps(report.as_dict(), default=str).decode())
    else:
        mode = "dry run: nothing changed" if dry_run else "enforced"
        click.echo(f"retention as of {report.now:%Y-%m-%d} ({mode}), policies {report.policy_file}")
        if not report.actions:
            click.echo("nothing expired")
        for a in report.actions:
            where = f" where {a.filter}" if a.filter else ""
            click.echo(
                f"  {a.status:<12} {a.table}/{a.partition}{where}  policy={a.policy} "
                f"archived={a.rows_archived} deleted={a.rows_deleted} bytes_freed={a.bytes_freed}"
                + (f"  -> {a.archive_path}" if a.archive_path else "")
                + (f"  error: {a.error}" if a.error else "")
            )
        verb = "would archive" if dry_run else "archived"
        click.echo(
            f"total: {verb} {report.rows_archived} rows, "
            f"{'would delete' if dry_run else 'deleted'} {report.rows_deleted} rows, "
            f"{'~' if dry_run else ''}{report.bytes_freed} bytes freed"
        )
    if report.failed:
        raise SystemExit(1)


@privacy.command("retention-runs")
@click.option("--limit", type=click.IntRange(1), default=20, help="Only the newest N rows.")
def retention_runs_command(limit: int) -> None:
    """List past retention runs (system/retention_runs), oldest first: one row per partition."""
    from lake.retention.report import read_run_history

    rows = read_run_history(_settings()).to_pylist()[-limit:]
    if not rows:
        click.echo("no retention run yet")
        return
    for r in rows:
        what = f"{r['table_name']}/{r['partition']}" if r["table_name"] else "-"
        click.echo(
            f"{r['run_at']:%Y-%m-%d %H:%M:%S}Z  run={r['run_id'][:12]} as_of={r['as_of']:%Y-%m-%d} "
            f"{r['status']:<15} {what} policy={r['policy'] or '-'} archived={r['rows_archived']} "
            f"deleted={r['rows_deleted']} bytes_freed={r['bytes_freed']}"
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
