"""``pulse alerts ...``: the on-call's commands (list, ack, resolve, history, validate).
Light imports only: the alert store and rules need neither Dagster nor the lake."""

from __future__ import annotations

import datetime as dt
import getpass
import statistics

import click

from core.settings import Settings, SettingsError, get_settings

STATUS_CHOICES = ("open", "acknowledged", "resolved", "all")


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _engine():
    from core.metadata import engine_for
    from orchestration.alerting import store  # noqa: F401  (declares the alert tables)

    return engine_for(_settings())


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _duration(value: dt.timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _actor(by: str | None) -> str:
    return by or getpass.getuser()


@click.group()
def alerts() -> None:
    """Alerts raised by the Dagster sensors: list, acknowledge, resolve, history."""


@alerts.command("list")
@click.option(
    "--status",
    type=click.Choice(STATUS_CHOICES),
    default="open",
    show_default=True,
    help="Which alerts (open = not acknowledged yet).",
)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
def list_command(status: str, limit: int) -> None:
    """List alerts, newest first: id, severity, status, rule, target, count, since, last seen."""
    from orchestration.alerting.store import list_views

    views = list_views(_engine(), None if status == "all" else status, limit)
    if not views:
        click.echo(f"no {'' if status == 'all' else status + ' '}alerts")
        return
    click.echo(
        "ID    SEVERITY  STATUS        RULE / TARGET                               COUNT  SINCE (UTC)          LAST SEEN (UTC)"
    )
    for v in views:
        a = v.alert
        label = f"{v.rule or a.source} / {v.target or a.asset_key or '-'}"
        click.echo(
            f"{a.id:<5} {a.severity:<9} {a.status:<13} {label[:43]:<43} {v.occurrences:>5}  "
            f"{_when(v.since or a.created_at):<20} {_when(v.last_seen or a.created_at)}"
        )
        click.echo(f"      {a.message[:160]}")


@alerts.command("ack")
@click.argument("alert_id", type=int)
@click.option("--by", default=None, help="Who acknowledges (default: the current user).")
@click.option("--note", default=None, help="A note kept in the history.")
def ack_command(alert_id: int, by: str | None, note: str | None) -> None:
    """Acknowledge an alert: it stops escalating; repeats still count into it."""
    from orchestration.alerting.store import AlertNotFound, AlertStateError, acknowledge

    try:
        view = acknowledge(_engine(), alert_id, _actor(by), note=note)
    except (AlertNotFound, AlertStateError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"acknowledged alert #{alert_id} ({view.rule or view.alert.source}) "
        f"after {_duration(view.time_to_acknowledge)}"
    )


@alerts.command("resolve")
@click.argument("alert_id", type=int)
@click.option("--by", default=None, help="Who resolves (default: the current user).")
@click.option("--note", default=None, help="A note kept in the history (e.g. the fix).")
def resolve_command(alert_id: int, by: str | None, note: str | None) -> None:
    """Resolve an alert; the next occurrence of the same problem opens a new one."""
    from orchestration.alerting.store import AlertNotFound, AlertStateError, resolve

    try:
        resolve(_engine(), alert_id, _actor(by), note=note)
    except (AlertNotFound, AlertStateError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"resolved alert #{alert_id}")


@alerts.command("history")
@click.argument("alert_id", type=int, required=False)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
def history_command(alert_id: int | None, limit: int) -> None:
    """Every state change of one alert; without ALERT_ID, the alerts with their time to
    acknowledge and the median over the acknowledged ones."""
    from orchestration.alerting.store import AlertNotFound, get_alert, history, list_views

    engine = _engine()
    if alert_id is not None:
        try:
            view = get_alert(engine, alert_id)
        except AlertNotFound as exc:
            raise click.ClickException(str(exc)) from None
        a = view.alert
        click.echo(
            f"alert #{a.id} {a.severity} {a.status}: {view.rule or a.source} / "
            f"{view.target or a.asset_key or '-'} x{view.occurrences}; "
            f"time to acknowledge {_duration(view.time_to_acknowledge)}"
        )
        for event in history(engine, alert_id):
            channel = f" {event.channel}" if event.channel else ""
            detail = f": {event.detail}" if event.detail else ""
            click.echo(
                f"  {_when(event.at)}  {event.event}{channel}  by {event.actor or '-'}{detail[:200]}"
            )
        return
    views = list_views(engine, None, limit)
    if not views:
        click.echo("no alerts yet")
        return
    click.echo(
        "ID    SEVERITY  STATUS        RULE / TARGET                               RAISED (UTC)         TIME TO ACK  ACK BY"
    )
    for v in views:
        a = v.alert
        label = f"{v.rule or a.source} / {v.target or a.asset_key or '-'}"
        click.echo(
            f"{a.id:<5} {a.severity:<9} {a.status:<13} {label[:43]:<43} {_when(a.created_at):<20} "
            f"{_duration(v.time_to_acknowledge):<12} {v.acknowledged_by or '-'}"
        )
    acked = [v.time_to_acknowledge.total_seconds() for v in views if v.time_to_acknowledge]
    if acked:
        median = dt.timedelta(seconds=statistics.median(acked))
        click.echo(
            f"time to acknowledge: median {_duration(median)} over {len(acked)} acknowledged "
            f"alert(s), max {_duration(dt.timedelta(seconds=max(acked)))}"
        )
    else:
        click.echo("time to acknowledge: no alert acknowledged yet")


@alerts.command("validate")
@click.option(
    "--rules",
    "path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Rules file (default: PULSE_ALERT_RULES_PATH or the packaged one).",
)
@click.option(
    "--no-definitions",
    is_flag=True,
    help="Skip the check against the Dagster definitions (faster; names are not checked).",
)
def validate_command(path: str | None, no_definitions: bool) -> None:
    """Validate an alert rules file, including the checks, assets, jobs and marts it names."""
    from orchestration.alerting.rules import AlertRulesError, load_rules, validate_against

    settings = _settings()
    try:
        rules = load_rules(path or settings.alert_rules_path)
        if not no_definitions:
            from orchestration.alerting.sources import catalog_of
            from orchestration.definitions import build_defs

            validate_against(rules, catalog_of(build_defs(settings).get_repository_def()))
    except AlertRulesError as exc:
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:  # ManifestMissingError says how to prepare the dbt manifest
        raise click.ClickException(f"cannot load the Dagster definitions: {exc}") from None
    click.echo(f"{rules.path}: {len(rules.rules)} rule(s) valid")
