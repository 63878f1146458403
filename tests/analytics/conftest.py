"""Fixtures of the analytics tests: the project's semantic layer and a private copy of the shared
demo's gold publication (the demo data dir itself is never written: the query log and any new
publication go to a temporary data dir)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.settings import Settings
from lake import gold


@pytest.fixture(scope="session")
def semantic():
    from analytics.semantic import SemanticLayer

    return SemanticLayer()


@dataclass(frozen=True)
class DemoGold:
    settings: Settings  # a temporary data dir holding a copy of the demo's publication
    marts: Path  # the demo's own publication directory (read-only), for direct computations
    data_start: dt.date
    data_end: dt.date


@pytest.fixture(scope="session")
def demo_gold(demo_run, tmp_path_factory) -> DemoGold:
    import polars as pl

    demo_settings = Settings(data_dir=demo_run[0])
    source = gold.current(demo_settings)
    settings = Settings(data_dir=tmp_path_factory.mktemp("analytics") / "data")
    gold.publish(
        settings,
        {name: source.path / f"{name}.parquet" for name in source.models},
        {"run_id": "analytics-tests"},
    )
    # Bronze is only read (the live path): the demo's own table.
    settings.table_path("bronze", "events").parent.mkdir(parents=True, exist_ok=True)
    os.symlink(
        demo_settings.table_path("bronze", "events"), settings.table_path("bronze", "events")
    )
    kpis = pl.read_parquet(source.path / "exec_daily_kpis.parquet")
    return DemoGold(settings, source.path, kpis["kpi_date"].min(), kpis["kpi_date"].max())
