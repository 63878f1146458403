"""Read-only access to the published gold marts for the dashboards.

Dashboards read the current gold publication (``lake.gold``: immutable Parquet files behind an
atomic pointer) through an in-memory DuckDB connection: they never open the warehouse's .duckdb
file, whose one writer is dbt, and a publication never changes under a reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from core.settings import Settings
from lake import gold
from lake.gold import MartNotPublished  # re-exported: the pages catch it

__all__ = ["MartNotPublished", "read_mart"]


@dataclass(frozen=True)
class _GoldDir:
    """What ``lake.gold`` needs of the settings: where gold is."""

    gold_dir: Path


def read_mart(gold_dir: Path | Settings, name: str) -> pl.DataFrame:
    """Mart ``name`` of the current publication (of ``gold_dir``, or of the settings' gold dir).

    Raises ``MartNotPublished`` (saying to run `pulse materialize`) when there is none yet."""
    where = gold_dir if isinstance(gold_dir, Settings) else _GoldDir(Path(gold_dir))
    path = gold.mart_path(where, name)  # type: ignore[arg-type]
    with duckdb.connect() as con:
        return con.sql("select * from read_parquet(?)", params=[str(path)]).pl()
