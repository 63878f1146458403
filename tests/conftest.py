"""Shared fixtures: every test gets its own PULSE_DATA_DIR, never the developer's ./data."""

from __future__ import annotations

import pytest

from pulse.settings import Settings, get_settings


@pytest.fixture
def pulse_settings(tmp_path, monkeypatch) -> Settings:
    """Settings whose data dir is a fresh temporary directory (env var set for children too)."""
    monkeypatch.setenv("PULSE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
