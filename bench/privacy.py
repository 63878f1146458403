"""Privacy benchmark (issue 5): erase one user from a lake of about 10 million events.

The 10x world of the transform benchmark (``bench.transform.prepare_world``: ~10.7M simulated
events, bulk-loaded into ``bronze/events`` + app snapshots) is built once in its own directory
(default ``/work/benchdata/privacy``, never shared with the transform benchmark) and reused.
Each run erases the most active user still present (erasure is destructive: successive runs
each erase another user), through the same ``erase_user`` as ``pulse privacy erase``, and
reports separately:

- removal: identity resolution + counting, Delta deletes, history purge (vacuum, checkpoint,
  log cleanup), loose files and WAL;
- verification: the decoded scan of every file of the data dir;
- re-derivation: rebuilding the marts. The 10x world has no dbt warehouse (the 10x dbt build
  alone takes over 10 minutes here: see the transform benchmark), so it is only measured when
  ``--rederive`` is given and a warehouse exists.

The machine's load average (``os.getloadavg``) is recorded with the numbers, and the erasure's
CPU time (all threads of the process), which does not grow with other processes' load.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path("/work/benchdata/privacy")


def _lake_rows(settings) -> int:
    import pyarrow as pa
    from deltalake import DeltaTable

    actions = pa.table(
        DeltaTable(str(settings.table_path("bronze", "events"))).get_add_actions(flatten=True)
    )
    return int(sum(actions.column("num_records").to_pylist()))


def _most_active_user(settings) -> tuple[str, int]:
    import duckdb
    from deltalake import DeltaTable

    from lake.privacy_ops.delta import _local_path

    files = [
        str(_local_path(u))
        for u in DeltaTable(str(settings.table_path("bronze", "events"))).file_uris()
    ]
    with duckdb.connect() as con:
        user, n = con.execute(
            "select user_id, count(*) n from read_parquet(?) where user_id is not null "
            "group by user_id order by n desc, user_id limit 1",
            [files],
        ).fetchall()[0]
    return user, int(n)


def run(work_dir: Path = DEFAULT_DIR, scale: str = "10x", rederive: bool = False):
    from bench.transform import SCALES, _settings_for, prepare_world

    started = time.perf_counter()
    info = prepare_world(work_dir, SCALES[scale])
    prepare_s = time.perf_counter() - started
    settings = _settings_for(work_dir / "data")
    lake_rows = _lake_rows(settings)
    user, user_rows = _most_active_user(settings)
    load_before = os.getloadavg()

    from lake.privacy_ops.erasure import erase_user

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = erase_user(
        settings,
        user,
        progress=lambda m: print(f"  {time.perf_counter() - started:6.1f}s {m}", flush=True),
    )
    total_s = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    load_after = os.getloadavg()
    if not result.ok or result.status != "completed":
        raise RuntimeError(f"erasure did not complete: {result.status} {result.findings[:5]}")

    rederive_s = None
    if rederive and settings.warehouse_path.exists():
        from orchestration.definitions import build_defs
        from orchestration.materialize import rederive as rederive_marts

        started = time.perf_counter()
        if not rederive_marts(settings, result.affected_dates, definitions=build_defs):
            raise RuntimeError("re-derivation failed")
        rederive_s = time.perf_counter() - started

    params: dict[str, Any] = {
        "world": f"{scale}: {info['params']['users']} users x {info['params']['days']} days",
        "events in bronze before": lake_rows,
        "erased user's bronze events": user_rows,
        "load average before/after (1 min)": f"{load_before[0]:.1f} / {load_after[0]:.1f}",
        "world prepared in": f"{prepare_s:.0f} s (cached after the first run)",
        "warehouse": "yes" if settings.warehouse_path.exists() else "none (bronze + snapshots)",
    }
    metrics = [
        {"metric": "events in the lake", "value": lake_rows, "unit": "events"},
        {"metric": "rows removed (all tables)", "value": result.total_rows, "unit": "rows"},
        {
            "metric": "linked anonymous ids / PII tokens",
            "value": result.linked_ids + result.tokens,
            "unit": "ids",
        },
        {
            "metric": "removal (resolve, delete, purge history, files, WAL)",
            "value": result.removal_seconds,
            "unit": "s",
        },
        {
            "metric": "verification (decoded scan of every file)",
            "value": result.verify_seconds,
            "unit": "s",
        },
        {
            "metric": "erase one user, total (removal + verification + audit)",
            "value": total_s,
            "unit": "s",
            "goal": "<= 60 s at 10M events",
        },
    ]
    metrics.append(
        {
            "metric": "  CPU time of the erasure (all threads; load-independent)",
            "value": cpu_s,
            "unit": "s",
        }
    )
    if rederive_s is not None:
        metrics.append({"metric": "re-derivation (dbt + gold)", "value": rederive_s, "unit": "s"})
    else:
        metrics.append(
            {
                "metric": "re-derivation (not measured: no warehouse in this world)",
                "value": 0,
                "unit": "s",
            }
        )
    return params, metrics, result
