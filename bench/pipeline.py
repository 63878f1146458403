"""End-to-end pipeline benchmark on the demo-sized world: how long each stage takes and how fast
data moves through it (simulate → bulk load → collector over HTTP → materialize)."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(users: int = 2000, days: int = 60, seed: int = 7) -> tuple[dict, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory(prefix="pulse-bench-") as tmp:
        os.environ["PULSE_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["PULSE_COLLECTOR_PORT"] = str(_free_port())
        from core.settings import get_settings

        get_settings.cache_clear()
        return _measure(get_settings(), users, days, seed)


def _measure(settings, users: int, days: int, seed: int):
    from core.metadata import engine_for
    from lake.ingest import bulk_load
    from lake.simulator import (
        SimConfig,
        generate_world,
        load_world_messages,
        send_http,
        write_world,
    )
    from lake.sources import create_source
    from orchestration.dbt_project import prepare_manifest
    from orchestration.materialize import materialize_all
    from pulse import services

    metrics: list[dict[str, Any]] = []

    started = time.perf_counter()
    world = generate_world(SimConfig(users=users, days=days, seed=seed))
    write_world(world, settings.sim_dir)
    elapsed = time.perf_counter() - started
    n_events = world.events.num_rows
    metrics += [
        {"metric": "simulated events", "value": n_events, "unit": "events"},
        {"metric": "simulate + write world", "value": elapsed, "unit": "s"},
        {"metric": "simulator throughput", "value": n_events / elapsed, "unit": "events/s"},
    ]

    last_day = world.config.resolved_end_date - timedelta(days=1)
    source, key = create_source(engine_for(settings), "bench")
    report = bulk_load(
        load_world_messages(settings.sim_dir, end=last_day, by="send_day"),
        settings,
        source.source_id,
    )
    metrics += [
        {"metric": "bulk load (history)", "value": report.seconds, "unit": "s"},
        {"metric": "bulk load throughput", "value": report.rows_per_second, "unit": "events/s"},
    ]

    collector = services.start_collector(settings)
    with services.running([collector]):
        services.wait_healthy(collector, timeout=60)
        messages = list(load_world_messages(settings.sim_dir, start=last_day, by="send_day"))
        started = time.perf_counter()
        sent = send_http(messages, url=collector.url, write_key=key, batch_size=100)
        elapsed = time.perf_counter() - started
    metrics += [
        {
            "metric": "HTTP ingest, 1 client, batches of 100",
            "value": len(messages) / elapsed,
            "unit": "events/s",
            "goal": "issue 3 measures the collector properly",
        },
        {"metric": "HTTP errors", "value": sent.http_errors, "unit": "requests", "goal": "0"},
    ]

    prepare_manifest(settings)
    started = time.perf_counter()
    from orchestration.definitions import build_defs  # after the manifest is prepared

    ok = materialize_all(settings, definitions=build_defs)
    metrics.append(
        {
            "metric": "materialize every asset",
            "value": time.perf_counter() - started,
            "unit": "s",
            "goal": "succeeds" if ok else "FAILED",
        }
    )
    return {"users": users, "days": days, "seed": seed}, metrics
