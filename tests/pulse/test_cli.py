"""The ``pulse`` command line, run as a user runs it (a real subprocess of the entry point)."""

import subprocess
import sys

from core.metadata import engine_for
from lake.sources import authenticate


def pulse(*args: str, env_data_dir) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "PULSE_DATA_DIR": str(env_data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "pulse.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_help_lists_every_command(tmp_path):
    out = pulse("--help", env_data_dir=tmp_path).stdout
    for command in ("simulate", "collector", "sources", "materialize", "demo", "serve", "docs"):
        assert command in out


def test_sources_add_prints_the_write_key_last_and_it_authenticates(pulse_settings):
    result = pulse("sources", "add", "ios-app", env_data_dir=pulse_settings.data_dir)
    assert result.returncode == 0, result.stderr
    key = result.stdout.split()[-1]
    source = authenticate(engine_for(pulse_settings), key)
    assert source is not None and source.name == "ios-app"

    listed = pulse("sources", "list", env_data_dir=pulse_settings.data_dir)
    assert "ios-app" in listed.stdout and key not in listed.stdout

    again = pulse("sources", "add", "ios-app", env_data_dir=pulse_settings.data_dir)
    assert again.returncode != 0 and "ios-app" in again.stderr


def test_simulate_writes_the_world_and_its_ground_truth(tmp_path):
    result = pulse(
        "simulate",
        "--users",
        "30",
        "--days",
        "3",
        "--seed",
        "1",
        "--end-date",
        "2026-01-10",
        env_data_dir=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sim" / "events.parquet").stat().st_size > 0
    assert (tmp_path / "sim" / "ground_truth.json").exists()


def test_bad_settings_give_a_clear_error_not_a_traceback(tmp_path):
    import os

    env = {**os.environ, "PULSE_DATA_DIR": str(tmp_path), "PULSE_COLLECTOR_PORT": "nope"}
    result = subprocess.run(
        [sys.executable, "-m", "pulse.cli", "sources", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "PULSE_COLLECTOR_PORT" in result.stderr and "Traceback" not in result.stderr


def test_materialize_exits_non_zero_when_there_is_no_lake(tmp_path):
    result = pulse("materialize", env_data_dir=tmp_path)
    assert result.returncode != 0
    assert "materialization failed" in result.stderr
    assert "Ingest events first" in result.stderr


def test_docs_without_a_lake_says_to_run_the_demo_first(tmp_path):
    result = pulse("docs", "--no-serve", env_data_dir=tmp_path)
    assert result.returncode != 0
    assert "make demo" in result.stderr and "Traceback" not in result.stderr
