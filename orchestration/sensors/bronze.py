"""``bronze_events_sensor``: start an incremental run when the collector commits a new Delta version
of ``bronze/events``.

The cursor is the last Delta version that started a run. Reading the version is cheap (the
Delta log, no data). The run rebuilds the partition of the newest event date (dbt adds its
``lookback_days``, which covers late events) and everything downstream. While a run of the job is
queued or running, the sensor waits (the cursor stays, so the next tick catches up in one run).
"""

from __future__ import annotations

import dagster as dg

from orchestration.jobs import full_refresh_job, incremental_job
from orchestration.partitions import daily_partitions
from orchestration.resources import PulseResource

ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def events_version(path: str) -> int | None:
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(path):
        return None
    return DeltaTable(path).version()


def newest_event_date(path: str) -> str | None:
    """Newest ``event_date`` partition of bronze/events (from the Delta log: no data read)."""
    import pyarrow as pa
    from deltalake import DeltaTable

    actions = pa.table(DeltaTable(path).get_add_actions(flatten=True))
    if not actions.num_rows or "partition.event_date" not in actions.column_names:
        return None
    values = [v for v in actions.column("partition.event_date").to_pylist() if v is not None]
    return str(max(values)) if values else None


def build_bronze_events_sensor(partitioned: bool) -> dg.SensorDefinition:
    job = incremental_job if partitioned else full_refresh_job

    @dg.sensor(
        name="bronze_events_sensor",
        job=job,
        minimum_interval_seconds=600,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts an incremental run when bronze/events has a new Delta version.",
    )
    def bronze_events_sensor(
        context: dg.SensorEvaluationContext, pulse: PulseResource
    ) -> dg.SensorResult | dg.SkipReason:
        path = str(pulse.settings().table_path("bronze", "events"))
        version = events_version(path)
        if version is None:
            return dg.SkipReason("bronze/events does not exist yet")
        cursor = int(context.cursor) if context.cursor else -1
        if version <= cursor:
            return dg.SkipReason(f"no new Delta version (at {version})")
        active = context.instance.get_runs(
            dg.RunsFilter(job_name=job.name, statuses=ACTIVE), limit=1
        )
        if active:
            return dg.SkipReason(f"run {active[0].run_id[:8]} of {job.name} is still active")
        request = dg.RunRequest(
            run_key=f"bronze-events-v{version}", tags={"pulse/delta_version": str(version)}
        )
        if partitioned:
            newest = newest_event_date(path)
            if newest is None:
                return dg.SkipReason("bronze/events has no partitions")
            keys = daily_partitions.get_partition_keys()
            key = min(newest, keys[-1]) if keys else newest
            request = dg.RunRequest(run_key=request.run_key, tags=request.tags, partition_key=key)
        return dg.SensorResult(run_requests=[request], cursor=str(version))

    return bronze_events_sensor
