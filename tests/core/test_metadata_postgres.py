"""The app metadata database on PostgreSQL: the same code as SQLite, against the real server on
127.0.0.1 (its own database, dropped afterwards)."""

import uuid

import pytest
from sqlalchemy import create_engine, text

from core.metadata import engine_for
from core.settings import Settings
from lake.sources import authenticate, create_source, list_sources

pytestmark = pytest.mark.integration

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def postgres_url():
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # the server is part of the machine; say clearly if it is down
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc}); see STACK_NOTES")
    name = f"pulse_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    yield SERVER.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'drop database "{name}" with (force)'))
    admin.dispose()


def test_sources_work_on_postgresql(postgres_url, tmp_path):
    settings = Settings(data_dir=tmp_path, metadata_url=postgres_url)
    engine = engine_for(settings)
    assert engine.dialect.name == "postgresql"
    source, key = create_source(engine, "android-app")
    assert authenticate(engine, key).source_id == source.source_id
    assert [s.name for s in list_sources(engine)] == ["android-app"]
    with engine.connect() as conn:
        stored = " ".join(
            str(v) for row in conn.execute(text("select * from sources")) for v in row
        )
    assert key not in stored, "write keys are stored hashed, never in clear"
    engine.dispose()
