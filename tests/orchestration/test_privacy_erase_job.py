"""The `privacy_erase` Dagster job runs the same erasure as `pulse privacy erase` (in-process,
on a tiny bronze-only world: no dbt, so re-derivation has nothing to rebuild and is skipped)."""

from __future__ import annotations

import dagster as dg
import polars as pl
from deltalake import DeltaTable


def test_privacy_erase_job_erases_and_records_the_request(pulse_settings):
    from lake.audit import read, subject_token
    from lake.ingest import bulk_load
    from lake.privacy_ops import requests
    from lake.simulator import SimConfig, generate_world
    from orchestration.privacy import build_privacy_erase_job
    from orchestration.resources import PulseResource

    settings = pulse_settings
    bulk_load(generate_world(SimConfig(users=12, days=4, seed=9)).messages, settings, "sim")
    path = str(settings.table_path("bronze", "events"))
    events = pl.from_arrow(DeltaTable(path).to_pyarrow_table())
    user = events["user_id"].drop_nulls().sort()[0]
    mine = events.filter(pl.col("user_id") == user).height

    def rederive(*_: object) -> bool:
        raise AssertionError("rederive=false: nothing is re-derived")

    result = build_privacy_erase_job(rederive).execute_in_process(
        run_config={"ops": {"erase_user_op": {"config": {"user_id": user, "rederive": False}}}},
        resources={"pulse": PulseResource.from_settings(settings)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    output = result.output_for_node("erase_user_op")
    assert output["status"] == "completed"
    assert output["rows_removed"]["lake/bronze/events"] >= mine > 0
    after = pl.from_arrow(DeltaTable(path).to_pyarrow_table())
    assert user not in after["user_id"].to_list()
    assert (
        after.filter(pl.col("user_id") != user).height
        == events.filter(pl.col("user_id") != user).height
    )
    subject = subject_token(settings, user)
    request = requests.get(settings, output["request_id"])
    assert request["subject"] == subject and request["status"] == "completed"
    actors = {e["actor"] for e in read(settings, action="erasure", subject=subject).to_pylist()}
    assert actors == {f"dagster:{result.run_id}"}
