"""App metadata database (sources and write keys, alert state): SQLite by default, any SQLAlchemy
URL (e.g. PostgreSQL) in production. Each owner module declares its tables on :data:`METADATA`;
:func:`engine_for` creates the engine and the tables once per URL."""

from __future__ import annotations

import functools

from sqlalchemy import Engine, MetaData, create_engine

from core.settings import Settings

METADATA = MetaData()


@functools.cache
def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def engine_for(settings: Settings) -> Engine:
    """The engine for the settings' metadata database, with every declared table created."""
    engine = _engine(settings.metadata_db_url)
    METADATA.create_all(engine)
    return engine
