"""Every blocking check of every published asset reports a result in a full materialization.

A blocking check that emits no result does not gate anything: Dagster logs "emitted no result ...
will proceed without gating on it" and publishes the mart untested. This happened when Dagster
split a dbt step at run time and the split-off subset's tests were never selected
(``orchestration.assets.dbt.selected_tests``). The shared demo's `pulse demo` run is the full
materialization checked here."""

from __future__ import annotations

import dagster as dg
import pytest

pytestmark = pytest.mark.integration


def test_every_blocking_check_of_a_published_asset_reports_in_the_demo_run(demo_settings):
    from orchestration.assets.publish import GOLD_PUBLICATION
    from orchestration.definitions import build_defs
    from orchestration.jobs import full_refresh_job
    from orchestration.materialize import instance_for

    graph = build_defs(demo_settings).resolve_asset_graph()
    published = graph.get(GOLD_PUBLICATION).parent_keys
    blocking = {
        key
        for key in graph.asset_check_keys
        if key.asset_key in published and graph.get_check_spec(key).blocking
    }
    assert len(published) >= 30 and len(blocking) >= 300  # the real graph, not an empty one
    with instance_for(demo_settings) as instance:
        runs = instance.get_run_records(
            filters=dg.RunsFilter(job_name=full_refresh_job.name), limit=1
        )
        assert runs, "the demo ran no full materialization"
        records = instance.get_records_for_run(
            runs[0].dagster_run.run_id,
            of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            limit=100_000,
        ).records
    reported = {
        r.event_log_entry.dagster_event.event_specific_data.asset_check_key for r in records
    }
    missing = sorted(k.to_user_string() for k in blocking - reported)
    assert missing == [], f"{len(missing)} blocking check(s) emitted no result: {missing[:10]}"
