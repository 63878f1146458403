"""Generate a world, write it to a folder, and read its messages back."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from lake.simulator.config import SimConfig
from lake.simulator.engine.emitters import EVENTS_SCHEMA
from lake.simulator.engine.simulation import Simulation

WORLD_FILES = ("events", "ground_truth", "users", "programs", "trainers", "plans")
_PARQUET_OPTS: dict[str, Any] = {"compression": "zstd", "write_statistics": True}


@dataclass
class World:
    """A generated world: the app's message stream, its database snapshots and the truth."""

    config: SimConfig
    events: pa.Table  # message_id, day, send_day, payload (send order)
    users: pa.Table
    programs: pa.Table
    trainers: pa.Table
    plans: pa.Table
    ground_truth: dict[str, Any]

    @property
    def messages(self) -> Iterator[dict[str, Any]]:
        """The Segment messages as sent (parsed JSON), in send order."""
        for payload in self.events.column("payload").to_pylist():
            yield orjson.loads(payload)


def generate_world(config: SimConfig) -> World:
    """Simulate ``config`` in memory (fine up to a few million events; see simulate_to_dir)."""
    sim = Simulation(config)
    tables = [table for _day, table in sim.days()]
    events = pa.concat_tables(tables) if tables else EVENTS_SCHEMA.empty_table()
    snapshots = sim.catalog_tables()
    return World(
        config=sim.cfg,
        events=events,
        users=sim.users_table(),
        programs=snapshots["programs"],
        trainers=snapshots["trainers"],
        plans=snapshots["plans"],
        ground_truth=sim.ground_truth(),
    )


def _paths(sim_dir: Path) -> dict[str, Path]:
    return {
        name: sim_dir / (f"{name}.json" if name == "ground_truth" else f"{name}.parquet")
        for name in WORLD_FILES
    }


def _write_side_files(
    paths: dict[str, Path], truth: dict[str, Any], tables: dict[str, pa.Table]
) -> None:
    for name, table in tables.items():
        pq.write_table(table, paths[name], **_PARQUET_OPTS)
    tmp = paths["ground_truth"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(truth, indent=1, sort_keys=False) + "\n")
    tmp.replace(paths["ground_truth"])


def write_world(world: World, sim_dir: Path | str) -> dict[str, Path]:
    """Write the world's files under ``sim_dir``; returns ``{name: path}``.

    Rows of ``events.parquet`` are grouped by send day (one row group a day), so the bytes are
    the same as :func:`simulate_to_dir` writes for the same config.
    """
    sim_dir = Path(sim_dir)
    sim_dir.mkdir(parents=True, exist_ok=True)
    paths = _paths(sim_dir)
    with pq.ParquetWriter(paths["events"], EVENTS_SCHEMA, **_PARQUET_OPTS) as writer:
        send_day = world.events.column("send_day")
        if world.events.num_rows:
            # row group boundaries where the send day changes (the table is in send order)
            values = send_day.cast(pa.int32()).to_numpy()
            cuts = [0, *list((values[1:] != values[:-1]).nonzero()[0] + 1), len(values)]
            for a, b in itertools.pairwise(cuts):
                writer.write_table(world.events.slice(a, b - a))
    tables = {
        "users": world.users,
        "programs": world.programs,
        "trainers": world.trainers,
        "plans": world.plans,
    }
    _write_side_files(paths, world.ground_truth, tables)
    return paths


def simulate_to_dir(config: SimConfig, sim_dir: Path | str) -> tuple[dict[str, Path], dict]:
    """Stream a world of any size to ``sim_dir`` a day at a time (bounded memory).

    Returns ``(paths, ground_truth)``. Used by benchmarks; same files as generate + write.
    """
    sim_dir = Path(sim_dir)
    sim_dir.mkdir(parents=True, exist_ok=True)
    paths = _paths(sim_dir)
    sim = Simulation(config)
    with pq.ParquetWriter(paths["events"], EVENTS_SCHEMA, **_PARQUET_OPTS) as writer:
        for _day, table in sim.days():
            if table.num_rows:
                writer.write_table(table)
    truth = sim.ground_truth()
    _write_side_files(paths, truth, {"users": sim.users_table(), **sim.catalog_tables()})
    return paths, truth


def load_world_messages(
    sim_dir: Path | str,
    start: date | None = None,
    end: date | None = None,
    *,
    by: str = "day",
) -> Iterator[dict[str, Any]]:
    """Yield the world's Segment messages (dirt included) in send order.

    ``start``/``end`` select days ``[start, end)`` of column ``by``: ``"day"`` (the UTC date of
    the client timestamp; malformed rows carry their intended day) or ``"send_day"`` (the day
    the app sent it: late events appear in a later send day).
    """
    if by not in ("day", "send_day"):
        raise ValueError(f"by must be 'day' or 'send_day', got {by!r}")
    path = Path(sim_dir) / "events.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `pulse simulate` (write_world) first")
    dataset = ds.dataset(path, format="parquet")
    expr = None
    if start is not None:
        expr = ds.field(by) >= pa.scalar(start, pa.date32())
    if end is not None:
        upper = ds.field(by) < pa.scalar(end, pa.date32())
        expr = upper if expr is None else expr & upper
    for batch in dataset.to_batches(columns=["payload"], filter=expr, batch_size=20_000):
        for payload in batch.column(0).to_pylist():
            yield orjson.loads(payload)


def load_ground_truth(sim_dir: Path | str) -> dict[str, Any]:
    return json.loads((Path(sim_dir) / "ground_truth.json").read_text())
