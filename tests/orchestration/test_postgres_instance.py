"""Production mode: a Dagster instance on PostgreSQL (orchestration/dagster.postgres.yaml) at
127.0.0.1:5432, in a database of its own that the test creates and drops. Materializes a couple of
assets with it and reads the records back."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import dagster as dg
import pytest

pytest.importorskip(
    "dagster_postgres",
    reason="dagster-postgres is not installed (pyproject: add dagster-postgres==0.29.*)",
)
psycopg = pytest.importorskip("psycopg")

CONFIG = Path(__file__).resolve().parents[2] / "orchestration" / "dagster.postgres.yaml"
ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


@pytest.fixture
def pg_database():
    name = f"pulse_dagster_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    with admin:
        admin.execute(f'create database "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'drop database if exists "{name}" with (force)')


@dg.asset
def upstream() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


@dg.asset(deps=[upstream])
def downstream() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 1})


def test_materialize_on_a_postgres_instance(pg_database, tmp_path, monkeypatch):
    for key, value in {
        "PULSE_DAGSTER_PG_HOST": "127.0.0.1",
        "PULSE_DAGSTER_PG_PORT": "5432",
        "PULSE_DAGSTER_PG_DB": pg_database,
        "PULSE_DAGSTER_PG_USER": "postgres",
        "PULSE_DAGSTER_PG_PASSWORD": "",
    }.items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(CONFIG, home / "dagster.yaml")

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        result = dg.materialize([upstream, downstream], instance=instance)
        assert result.success
        event = instance.get_latest_materialization_event(dg.AssetKey("downstream"))
        assert event.asset_materialization.metadata["dagster/row_count"].value == 1
        [run] = instance.get_runs()
        assert run.run_id == result.run_id

    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={pg_database}") as con:
        runs = con.execute("select count(*) from runs").fetchone()[0]
    assert runs == 1
