"""`pulse materialize --start D --end D`: a backfill of daily partitions from the command line,
recorded in the persistent Dagster instance as materializations of exactly those partitions."""

import os
import subprocess
import sys
from datetime import date

import dagster as dg
import pytest

pytestmark = pytest.mark.integration

END = date(2026, 2, 1)  # world covers 2026-01-25 .. 2026-01-31


def test_cli_backfill_materializes_exactly_the_requested_days(pulse_settings):
    from lake.ingest import bulk_load
    from lake.simulator import SimConfig, generate_world, write_world
    from lake.snapshots import load_snapshots
    from orchestration.materialize import instance_for

    world = generate_world(SimConfig(users=60, days=7, seed=4, end_date=END))
    write_world(world, pulse_settings.sim_dir)
    load_snapshots(pulse_settings.sim_dir, pulse_settings)
    bulk_load(world.messages, pulse_settings, source_id="sim")

    result = subprocess.run(
        [sys.executable, "-m", "pulse.cli", "materialize",
         "--start", "2026-01-29", "--end", "2026-01-30"],
        env={**os.environ, "PULSE_DATA_DIR": str(pulse_settings.data_dir)},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    with instance_for(pulse_settings) as instance:
        done = instance.get_materialized_partitions(dg.AssetKey(["exec_daily_kpis"]))
    assert done == {"2026-01-29", "2026-01-30"}
