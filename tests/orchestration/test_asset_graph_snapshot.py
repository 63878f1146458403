"""Snapshot of the whole Dagster graph: asset keys, groups, kinds, deps, partitions, freshness,
checks, jobs, schedules and sensors, compared exactly with the committed JSON, so a change of
lineage shows up in review.

After an intended change (a new dbt model, a new asset), regenerate and commit the snapshot:

    PULSE_UPDATE_SNAPSHOTS=1 uv run pytest tests/orchestration/test_asset_graph_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def graph_snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()

    def name(key: dg.AssetKey) -> str:
        return key.to_user_string()

    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=name):
        node = graph.get(key)
        policy = node.freshness_policy
        assets[name(key)] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "deps": sorted(name(p) for p in node.parent_keys),
            "partitioned": node.is_partitioned,
            "observable": node.is_observable,
            "freshness": None
            if policy is None
            else {
                "fail_seconds": policy.fail_window.to_timedelta().total_seconds(),
                "warn_seconds": policy.warn_window.to_timedelta().total_seconds()
                if policy.warn_window
                else None,
            },
        }
    checks = {
        f"{name(k.asset_key)}:{k.name}": {"blocking": graph.get_check_spec(k).blocking}
        for k in sorted(graph.asset_check_keys, key=lambda k: (name(k.asset_key), k.name))
    }
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = {
            "assets": sorted(name(k) for k in job.asset_layer.selected_asset_keys),
            "checks": len(job.asset_layer.asset_graph.asset_check_keys),
            "tags": dict(sorted(job.tags.items())),
        }
    schedules = {
        s.name: {"cron": s.cron_schedule, "job": s.job_name, "status": s.default_status.value}
        for s in sorted(defs.schedules or (), key=lambda s: s.name)
    }
    sensors = {
        s.name: {
            "jobs": sorted(j.name for j in s.jobs) if s.has_jobs else [],
            "status": s.default_status.value,
        }
        for s in sorted(defs.sensors or (), key=lambda s: s.name)
    }
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
    }


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    from core.settings import Settings
    from orchestration import dbt_project

    dbt_project.prepare_manifest(Settings(data_dir=tmp_path_factory.mktemp("data")))
    from orchestration.definitions import build_defs

    return build_defs()


def test_asset_graph_matches_the_snapshot(defs):
    current = graph_snapshot(defs)
    text = json.dumps(current, indent=1, sort_keys=True) + "\n"
    if os.environ.get("PULSE_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), f"no snapshot yet: run with PULSE_UPDATE_SNAPSHOTS=1 ({SNAPSHOT})"
    expected = json.loads(SNAPSHOT.read_text())
    for section in expected:
        assert current[section] == expected[section], (
            f"the {section} of the asset graph changed; if intended, regenerate the snapshot "
            "with PULSE_UPDATE_SNAPSHOTS=1 and commit it"
        )
    assert current.keys() == expected.keys()
