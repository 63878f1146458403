"""Daily partitions of the incremental dbt models (tagged ``daily``) and how a partition (range)
reaches dbt: as the environment variables ``PULSE_DBT_MIN_DATE``/``PULSE_DBT_MAX_DATE`` of the dbt
subprocess (``partition_window_env``), which ``macros/incremental_window.sql`` reads at execution
time. Not as ``--vars``: any change of ``--vars`` makes dbt re-parse the whole project (~10 s here,
~45 s on a loaded machine) on every partition run, whereas the environment keeps partial parsing.

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


WINDOW_ENV_VARS = ("PULSE_DBT_MIN_DATE", "PULSE_DBT_MAX_DATE")


def partition_window_env(window: dg.TimeWindow | None) -> dict[str, str]:
    """Environment of a dbt run for a partition window (``partitioned_dbt_vars``' dates), or, for
    ``None`` (an unpartitioned run), both variables empty: a window left in the parent's
    environment must not filter a run that rebuilds everything."""
    if window is None:
        return dict.fromkeys(WINDOW_ENV_VARS, "")
    vars_ = partitioned_dbt_vars(window)
    return dict(zip(WINDOW_ENV_VARS, (vars_["min_date"], vars_["max_date"]), strict=True))


def dbt_build_args(vars_: dict[str, Any] | None = None) -> list[str]:
    """Arguments of ``dbt build`` (``dagster-dbt`` adds the ``--select`` of the step's subset).

    Indirect selection is ``empty``: each step selects its data tests explicitly
    (``dbt_stages``: a test runs with its latest parent), so no test runs before all its models
    exist. dbt unit tests are not selected: they test logic, not data (their fixture rows would
    also be filtered by a partition window); CI runs them (tests/dbt)."""
    import json

    args = ["build", "--indirect-selection", "empty"]
    if vars_:
        args += ["--vars", json.dumps(vars_, sort_keys=True)]
    return args


def clamp_range(
    first: dt.date, last: dt.date, today: dt.date | None = None
) -> tuple[dt.date, dt.date] | None:
    """``[first, last]`` clamped to the dates that are partitions (None if nothing is left)."""
    today = today or dt.datetime.now(dt.UTC).date()
    lo = max(first, dt.date.fromisoformat(PARTITIONS_START_DATE))
    hi = min(last, today)
    return (lo, hi) if lo <= hi else None
