from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from core.metadata import engine_for
from core.settings import Settings
from lake.sources import SOURCES, SourceExistsError, authenticate, create_source, list_sources


@pytest.fixture
def engine(tmp_path):
    return engine_for(Settings(data_dir=tmp_path / "data"))


def test_key_is_stored_hashed_never_in_clear(engine, tmp_path):
    source, key = create_source(engine, "ios-app")
    assert key.startswith("pk_") and len(key) > 30
    with engine.connect() as conn:
        row = conn.execute(select(SOURCES)).one()
    assert row.write_key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(tuple(row))
    assert key.encode() not in (tmp_path / "data" / "pulse.db").read_bytes()
    assert key not in repr(source)


def test_authenticate(engine):
    source, key = create_source(engine, "web", settings={"unknown_event_policy": "quarantine"})
    found = authenticate(engine, key)
    assert found is not None and found.source_id == source.source_id
    assert found.settings["unknown_event_policy"] == "quarantine"
    assert authenticate(engine, key) == found  # cached
    assert authenticate(engine, key + "x") is None
    assert authenticate(engine, "") is None
    assert authenticate(engine, None) is None


def test_duplicate_name_is_a_clear_error(engine):
    create_source(engine, "android")
    with pytest.raises(SourceExistsError, match="android"):
        create_source(engine, "android")


def test_list_sources(engine):
    create_source(engine, "a")
    create_source(engine, "b")
    assert [s.name for s in list_sources(engine)] == ["a", "b"]


def test_ensure_source_is_idempotent_and_rekeys(engine):
    """Pulse's own senders keep their key in a file and register it at every start."""
    from lake.sources import ensure_source

    key = "pk_" + "a" * 40
    first = ensure_source(engine, "pulse-dashboards", key)
    assert ensure_source(engine, "pulse-dashboards", key).source_id == first.source_id
    assert authenticate(engine, key).source_id == first.source_id
    new_key = "pk_" + "b" * 40  # the key file was lost: the new key replaces the old one
    assert ensure_source(engine, "pulse-dashboards", new_key).source_id == first.source_id
    assert authenticate(engine, new_key) is not None and authenticate(engine, key) is None
    assert [s.name for s in list_sources(engine)] == ["pulse-dashboards"]
    with pytest.raises(ValueError, match="write key"):
        ensure_source(engine, "x", "short")
