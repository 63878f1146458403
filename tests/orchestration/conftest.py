"""Fixtures of the orchestration tests."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def loaded_world(demo_run, tmp_path, monkeypatch):
    """Settings on a private copy of the shared demo world's data dir (materialized and
    published by `pulse demo`), so a test may run, break and repair it; the end-to-end suites
    read the original. The data dir's own dbt target is left out (rebuilt on demand)."""
    from core.settings import get_settings

    data_dir = tmp_path / "data"
    shutil.copytree(demo_run[0], data_dir, ignore=shutil.ignore_patterns("dbt"))
    monkeypatch.setenv("PULSE_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
