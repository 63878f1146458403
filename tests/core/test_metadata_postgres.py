"""The app metadata database on PostgreSQL: the same code as SQLite, against the real server on
127.0.0.1 (its own database, dropped afterwards)."""

import pytest
from sqlalchemy import text

from core.metadata import engine_for
from core.settings import Settings
from lake.sources import authenticate, create_source, list_sources

pytestmark = pytest.mark.integration


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
