"""Daily partitions of the incremental dbt models (tagged ``daily``) and how a partition (range)
becomes dbt vars.

``PARTITIONS_START_DATE`` is the first event date Dagster can address (a constant on purpose: changing
it changes every partition key's history in the instance). Events dated earlier are still built by a
full refresh; ``materialize_all`` clamps its range to the partitions and says so. ``end_offset=1``
makes *today* a partition, so the hourly schedule can rebuild the running day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg

PARTITIONS_START_DATE = "2024-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START_DATE, end_offset=1, timezone="UTC"
)


def partitioned_dbt_vars(window: dg.TimeWindow) -> dict[str, Any]:
    """dbt vars of a partition time window: ``min_date``/``max_date`` inclusive (YYYY-MM-DD).

    Dagster's window end is exclusive (the next day's midnight); ``event_date_window`` wants the
    last day to rebuild. The late-arrival lookback is dbt's own ``lookback_days`` var."""
    start = window.start.date()
    last = (window.end - dt.timedelta(days=1)).date()
    return {"min_date": start.isoformat(), "max_date": max(start, last).isoformat()}


def dbt_build_args(vars_: dict[str, Any] | None = None) -> list[str]:
    """Arguments of ``dbt build`` (``dagster-dbt`` adds the ``--select`` of the step's subset).

    A partitioned build skips dbt unit tests: their fixture rows would be filtered by the
    partition window (``event_date_window``), and they test logic, not data. They run in the
    unpartitioned builds' CI (``dbt test --select test_type:unit``, tests/dbt)."""
    import json

    # `cautious`: a test runs with the step of its model, not with an earlier step that built
    # only one of its parents (a relationships test to dim_users must wait for its own model).
    args = ["build", "--indirect-selection", "cautious"]
    if vars_:
        args += [
            "--vars",
            json.dumps(vars_, sort_keys=True),
            "--exclude",
            "resource_type:unit_test",
        ]
    return args


def clamp_range(
    first: dt.date, last: dt.date, today: dt.date | None = None
) -> tuple[dt.date, dt.date] | None:
    """``[first, last]`` clamped to the dates that are partitions (None if nothing is left)."""
    today = today or dt.datetime.now(dt.UTC).date()
    lo = max(first, dt.date.fromisoformat(PARTITIONS_START_DATE))
    hi = min(last, today)
    return (lo, hi) if lo <= hi else None
