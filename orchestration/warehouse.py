"""Short-lived, read-only access to dbt's warehouse from Dagster steps, and what the manifest says
about its relations.

DuckDB allows one writing process per file and then nobody else, not even read-only readers
(STACK_NOTES). Only code that runs *between* dbt invocations of the same run may open it: the
publication step, the blocking checks that must pass before publication, and the row counts /
previews computed after a dbt subprocess has exited. Readers outside Dagster read ``lake.gold``.
Runs are serialized on the warehouse by the ``duckdb_warehouse`` pool (see ``WAREHOUSE_POOL``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from core.settings import Settings
from lake.sql import qualified

if TYPE_CHECKING:
    import polars as pl

# Dagster concurrency pool of every step that opens the warehouse (dbt, checks, publication).
WAREHOUSE_POOL = "duckdb_warehouse"
GOLD_TAG = "gold"
DAILY_TAG = "daily"


@dataclass(frozen=True)
class Model:
    """A dbt model as the manifest describes it."""

    unique_id: str
    name: str
    schema: str
    alias: str
    materialized: str
    tags: tuple[str, ...]
    fqn: tuple[str, ...]

    @property
    def relation(self) -> str:
        return qualified(self.schema, self.alias)


def models_from_manifest(manifest: Mapping[str, Any]) -> dict[str, Model]:
    """Every enabled model of the manifest by name."""
    models = {}
    for uid, node in manifest.get("nodes", {}).items():
        if node.get("resource_type") != "model":
            continue
        models[node["name"]] = Model(
            unique_id=uid,
            name=node["name"],
            schema=node["schema"],
            alias=node.get("alias") or node["name"],
            materialized=node.get("config", {}).get("materialized", ""),
            tags=tuple(node.get("tags") or ()),
            fqn=tuple(node.get("fqn") or ()),
        )
    return models


@cache
def _load_manifest(path: str, mtime: float) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def load_manifest(path: Path) -> dict[str, Any]:
    return _load_manifest(str(path), path.stat().st_mtime)


def tagged(models: Mapping[str, Model], tag: str) -> list[Model]:
    return sorted((m for m in models.values() if tag in m.tags), key=lambda m: m.name)


class WarehouseBusy(RuntimeError):
    """The warehouse is locked by a writer (a dbt run) for longer than we wait."""


@contextlib.contextmanager
def read_only(
    settings: Settings, timeout_seconds: float = 60.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse, retried while another process holds the lock.

    Keep it short: while it is open, no dbt run can start."""
    path = settings.warehouse_path
    if not path.exists():
        raise FileNotFoundError(
            f"warehouse {path} does not exist: run `pulse materialize` to build the dbt models"
        )
    deadline = time.monotonic() + timeout_seconds
    delay = 0.2
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise WarehouseBusy(
                    f"could not open the warehouse {path} read-only within "
                    f"{timeout_seconds:.0f} s (a dbt run holds it?): {exc}"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    try:
        yield con
    finally:
        con.close()


def existing_relations(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return {
        (s, t)
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }


def markdown_preview(con: duckdb.DuckDBPyConnection, relation: str, rows: int = 5) -> str:
    """The first ``rows`` rows of ``relation`` as a Markdown table (cells cut to 40 characters)."""
    cur = con.execute(f"select * from {relation} limit {int(rows)}")
    columns = [d[0] for d in cur.description]
    data = cur.fetchall()

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 40 else text[:39] + "…"

    lines = [
        "| " + " | ".join(cell(c) for c in columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in data),
    ]
    return "\n".join(lines)


def read_models(settings: Settings, names: Sequence[str]) -> dict[str, pl.DataFrame | None]:
    """Models ``names`` read from the warehouse in one short read-only connection (None for a model
    that is not built). For checks that must pass *before* publication; everyone else reads
    ``lake.gold``."""
    from orchestration.dbt_project import require_manifest

    models = models_from_manifest(load_manifest(require_manifest()))
    out: dict[str, pl.DataFrame | None] = {}
    with read_only(settings) as con:
        present = existing_relations(con)
        for name in names:
            model = models.get(name)
            if model is None or (model.schema, model.alias) not in present:
                out[name] = None
                continue
            out[name] = con.sql(f"select * from {model.relation}").pl()
    return out
