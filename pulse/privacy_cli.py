"""``pulse privacy ...``: the privacy officer's commands (audit log; erasure, export, key rotation
and retention register here too). Heavy imports stay inside the commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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

    from lake.retention import RetentionPolicyError, enforce

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
    from lake.retention import read_run_history

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
