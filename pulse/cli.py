"""The ``pulse`` command line. Each command imports what it needs when it runs, so ``pulse --help``
and the light commands stay fast (Dagster, GX and Evidently take seconds to import)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from core.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    import dagster as dg


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _world_options(func):
    func = click.option(
        "--end-date",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="Exclusive last day of the world (default: today, UTC).",
    )(func)
    func = click.option("--seed", type=int, default=7, show_default=True)(func)
    func = click.option("--days", type=click.IntRange(1, 3650), default=60, show_default=True)(func)
    func = click.option("--users", type=click.IntRange(1), default=2000, show_default=True)(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Pulse: analytics lakehouse for a fitness marketplace app."""


@main.command()
@_world_options
def simulate(users: int, days: int, seed: int, end_date) -> None:
    """Generate a simulated fitness-app world (events + ground truth) under <data>/sim."""
    from lake.simulator import SimConfig, generate_world, write_world

    settings = _settings()
    config = SimConfig(
        users=users, days=days, seed=seed, end_date=end_date.date() if end_date else None
    )
    world = generate_world(config)
    paths = write_world(world, settings.sim_dir)
    click.echo(f"simulated {users} users x {days} days (seed {seed})")
    for name, path in paths.items():
        click.echo(f"  {name}: {path}")


@main.command()
@click.option("--host", default=None, help="Bind address (default PULSE_HOST).")
@click.option("--port", type=int, default=None, help="Port (default PULSE_COLLECTOR_PORT).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes sharing the port; each has its own WAL (<id>-<n>).",
)
def collector(host: str | None, port: int | None, workers: int) -> None:
    """Run the Segment-compatible HTTP collector until interrupted."""
    from lake.collector.server import run

    settings = _settings()
    run(settings, host or settings.host, port or settings.collector_port, workers=workers)


@main.group()
def sources() -> None:
    """Manage event sources and their write keys."""


@sources.command("add")
@click.argument("name")
def sources_add(name: str) -> None:
    """Create a source; its write key is the last word printed (shown once, stored hashed)."""
    from core.metadata import engine_for
    from lake.sources import create_source

    try:
        source, key = create_source(engine_for(_settings()), name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created source {source.name} ({source.source_id}); write key: {key}")


@sources.command("list")
def sources_list() -> None:
    """List sources (write keys are never shown again)."""
    from core.metadata import engine_for
    from lake.sources import list_sources

    rows = list_sources(engine_for(_settings()))
    if not rows:
        click.echo("no sources yet: create one with `pulse sources add NAME`")
    for source in rows:
        click.echo(f"{source.source_id}\t{source.name}\t{source.created_at:%Y-%m-%d %H:%M}")


@main.command()
def prepare() -> None:
    """Parse the dbt project so Dagster can load its manifest (run at install time)."""
    from orchestration.dbt_project import prepare_manifest

    path = prepare_manifest(_settings())
    click.echo(f"dbt manifest ready: {path}")


@main.command()
@click.option(
    "--select",
    "selection",
    default=None,
    help="Dagster asset selection, e.g. 'exec_daily_kpis+' (default: every asset).",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day to (re)build for daily-partitioned assets (a backfill).",
)
@click.option(
    "--end",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last day (inclusive) of that backfill.",
)
@click.option("--verbose", is_flag=True, help="Print dbt's and Dagster's full output.")
def materialize(selection: str | None, start, end, verbose: bool) -> None:
    """Materialize the asset graph headless (daily partitions: every day that has data, or
    --start..--end); exits non-zero if any step fails."""
    from orchestration.materialize import materialize_all

    ok = materialize_all(
        _settings(),
        selection,
        start=start.date() if start else None,
        end=end.date() if end else None,
        definitions=_build_defs,
        verbose=verbose,
    )
    if not ok:
        raise click.ClickException("materialization failed: see the log above")


@main.command()
@_world_options
@click.option("--no-serve", is_flag=True, help="Do everything but serving, then exit 0.")
def demo(users: int, days: int, seed: int, end_date, no_serve: bool) -> None:
    """Simulate, ingest (history in bulk, last day over HTTP), materialize, then serve the UIs."""
    from pulse.demo import run_demo

    run_demo(
        _settings(),
        users=users,
        days=days,
        seed=seed,
        end_date=end_date.date() if end_date else None,
        serve=not no_serve,
    )


@main.command()
def serve() -> None:
    """Serve the collector, the Dagster UI and Streamlit on the existing data until Ctrl-C."""
    from pulse.demo import DEMO_ADMIN, demo_admin_file, read_demo_admin
    from pulse.services import register_dashboard_usage, serve_all

    settings = _settings()
    register_dashboard_usage(settings)
    saved = read_demo_admin(settings)
    hint = (
        f"sign in as {saved[0]} (the demo admin; password in {demo_admin_file(settings)})"
        if saved
        else f"sign in with a user of `pulse users list` (no demo {DEMO_ADMIN} here)"
    )
    serve_all(settings, dashboard_sign_in=hint)


@main.command()
@click.option("--no-serve", is_flag=True, help="Generate the docs site only.")
def docs(no_serve: bool) -> None:
    """Build the dbt docs site (catalog from the warehouse) and serve it."""
    from pulse.services import ServiceError, build_and_serve_dbt_docs

    try:
        build_and_serve_dbt_docs(_settings(), serve=not no_serve)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None


def _build_defs(settings: Settings) -> dg.Definitions:
    """The Dagster definitions, imported only once ``materialize_all`` needs them (after its own
    checks: importing ``orchestration.definitions`` builds them and needs the dbt manifest)."""
    from orchestration.definitions import build_defs

    return build_defs(settings)


def _register_groups() -> None:
    from pulse.alerts_cli import alerts
    from pulse.privacy_cli import privacy
    from pulse.users_cli import users

    main.add_command(privacy)
    main.add_command(alerts)
    main.add_command(users)


_register_groups()

if __name__ == "__main__":
    sys.exit(main())
