"""``pulse demo``: the whole platform on the embedded default, phase by phase, with timings.

simulate → collector up → history bulk-loaded (with a few weeks of the dashboards' own usage) →
last day sent over HTTP → collector stopped gracefully (its WAL flushed to Delta) → every asset
materialized → services served.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from core.settings import Settings

# Children of the data dir that the demo owns and recreates. Nothing else is ever deleted.
_DEMO_STATE = ("lake", "sim", "wal", "warehouse", "dagster_home", "reports", "models", "pulse.db")


class Phases:
    """Prints each phase as it starts and its duration as it ends; keeps the totals."""

    def __init__(self, echo: Callable[[str], None] = print) -> None:
        self.echo = echo
        self.timings: list[tuple[str, float]] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.echo(f"==> {name}")
        started = time.monotonic()
        yield
        elapsed = time.monotonic() - started
        self.timings.append((name, elapsed))
        self.echo(f"    done in {elapsed:.1f}s")

    def summary(self) -> str:
        width = max((len(name) for name, _ in self.timings), default=5)
        lines = [f"  {name:<{width}} {secs:7.1f}s" for name, secs in self.timings]
        total = sum(secs for _, secs in self.timings)
        return "\n".join(["phase timings:", *lines, f"  {'total':<{width}} {total:7.1f}s"])


DEMO_ADMIN = "admin"


def demo_admin_file(settings: Settings) -> Path:
    return settings.data_dir / "secrets" / "dashboard-admin.txt"


def read_demo_admin(settings: Settings) -> tuple[str, str] | None:
    """(username, password) of the demo admin saved by an earlier run, or None."""
    path = demo_admin_file(settings)
    if not path.exists():
        return None
    fields = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    if fields.get("username") and fields.get("password"):
        return fields["username"], fields["password"]
    return None


def ensure_demo_admin(settings: Settings) -> tuple[str, str]:
    """The dashboards' demo admin: created (or reset) in the metadata database with the
    password saved in <data dir>/secrets/dashboard-admin.txt (0600), generated on the first
    run and re-used after, so a bookmark and a browser's saved password keep working."""
    from core import accounts
    from core.metadata import engine_for

    saved = read_demo_admin(settings)
    username, password = saved or (DEMO_ADMIN, secrets.token_urlsafe(12))
    if saved is None:
        path = demo_admin_file(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(
                "# The Pulse dashboards' demo admin, created by `pulse demo`.\n"
                f"username={username}\npassword={password}\n"
            )
    engine = engine_for(settings)
    if accounts.get_user(engine, username) is None:
        accounts.add_user(engine, username, "admin", password)
    else:  # a metadata database that outlives the demo (PostgreSQL): make it match the file
        accounts.set_role(engine, username, "admin")
        accounts.set_password(engine, username, password)
    return username, password


def reset_demo_state(settings: Settings) -> None:
    for name in _DEMO_STATE:
        path = settings.data_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _simulated_dashboard_usage(
    settings: Settings, first_day: date, last_day: date, seed: int
) -> tuple[list[dict], int]:
    """The demo accounts' usage messages, with bronze/dashboard_accounts landed for them (plus
    any account the users table already has)."""
    from apps.streamlit.navigation import PAGES
    from lake.dashboard_accounts import Account, land_dashboard_accounts
    from lake.internal_source import dashboard_user_id
    from lake.simulator.dashboard_usage import DEMO_ACCOUNTS, simulate_dashboard_usage

    messages = simulate_dashboard_usage(
        first_day,
        last_day,
        [p.url_path for p in PAGES],
        lambda name: dashboard_user_id(settings, name),
        seed=seed,
    )
    created = datetime.combine(first_day, datetime.min.time(), UTC)
    accounts = land_dashboard_accounts(
        settings, simulated=[Account(a.username, a.role, created) for a in DEMO_ACCOUNTS]
    )
    return messages, accounts


def run_demo(
    settings: Settings,
    *,
    users: int,
    days: int,
    seed: int,
    end_date: date | None,
    serve: bool,
    echo: Callable[[str], None] = print,
) -> Phases:
    from core.metadata import engine_for
    from lake.ingest import bulk_load
    from lake.internal_source import ensure_dashboards_source
    from lake.simulator import (
        SimConfig,
        generate_world,
        load_world_messages,
        send_http,
        write_world,
    )
    from lake.snapshots import load_snapshots
    from lake.sources import create_source
    from pulse import services

    phases = Phases(echo)
    echo(f"Pulse demo: data dir {settings.data_dir}")
    reset_demo_state(settings)

    with phases.phase(f"simulate {users} users x {days} days (seed {seed})"):
        world = generate_world(SimConfig(users=users, days=days, seed=seed, end_date=end_date))
        write_world(world, settings.sim_dir)
        last_day = world.config.resolved_end_date - timedelta(days=1)
        first_day = last_day - timedelta(days=days - 1)

    source, write_key = create_source(engine_for(settings), "fitness-app")
    admin = ensure_demo_admin(settings)
    dashboards_source, _ = ensure_dashboards_source(settings)  # the dashboards' own usage

    with phases.phase("land the app's reference snapshots (users, programs, trainers, plans)"):
        for report in load_snapshots(settings.sim_dir, settings):
            echo(f"    bronze/app_{report.table}: {report.rows:,} rows")

    with phases.phase(f"bulk-load history sent {first_day} .. {last_day - timedelta(days=1)}"):
        report = bulk_load(
            load_world_messages(settings.sim_dir, end=last_day, by="send_day"),
            settings,
            source.source_id,
        )
        echo(f"    accepted {report.accepted:,}, quarantined {report.quarantined:,}")

    with phases.phase("bulk-load a few weeks of the dashboards' own usage (Adoption page)"):
        usage, accounts = _simulated_dashboard_usage(settings, first_day, last_day, seed)
        report = bulk_load(usage, settings, dashboards_source.source_id)
        echo(f"    {report.accepted:,} usage events of {accounts} dashboard accounts")

    with phases.phase(f"send the events of {last_day} through the collector over HTTP"):
        collector = services.start_collector(settings)
        with services.running([collector]):
            services.wait_healthy(collector, timeout=60)
            sent = send_http(
                load_world_messages(settings.sim_dir, start=last_day, by="send_day"),
                url=collector.url,
                write_key=write_key,
                batch_size=100,
            )
            echo(f"    {sent}")
        # Leaving the block stops the collector with SIGTERM: it flushes its WAL to Delta.

    with phases.phase("materialize every asset (dbt, checks, churn model, drift report)"):
        from orchestration.dbt_project import prepare_manifest
        from orchestration.materialize import materialize_all

        prepare_manifest(settings)
        from orchestration.definitions import build_defs  # after the manifest is prepared

        if not materialize_all(settings, definitions=build_defs):
            raise SystemExit("materialization failed: see the log above")

    echo(phases.summary())
    sign_in = f"sign in as {admin[0]} / {admin[1]} (saved in {demo_admin_file(settings)})"
    if serve:
        echo("starting services ...")
        services.serve_all(settings, dashboard_sign_in=sign_in)
    else:
        echo(f"dashboards: {sign_in}")
    return phases
