"""Headless materialization (``pulse materialize``, the demo, integration tests).

Runs in-process through ``dagster.materialize`` against the persistent instance under
``settings.dagster_home`` (SQLite), so runs, materializations and check results show up in the
Dagster UI afterwards. Steps: observe the bronze tables, materialize the selection, log one line per
asset and check, then raise alerts for failed checks / a failed run (idempotent with the sensors,
which do the same when the daemon runs).

The definitions are passed in (``definitions=build_defs``, a function of the settings) by the
callers above ``orchestration.definitions`` (the CLI, the demo, the privacy job wired by the
definitions themselves): this module sits below the entry point and never imports it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from core.settings import Settings

log = logging.getLogger("pulse.materialize")

DefinitionsFactory = Callable[[Settings], dg.Definitions]
"""``orchestration.definitions.build_defs``: all definitions with resources pinned to settings."""

_DAGSTER_YAML = """\
# Written by Pulse (orchestration/materialize.py). SQLite storage under this directory.
telemetry:
  enabled: false
# One run at a time may touch dbt's DuckDB warehouse (one writing process): queued runs wait.
run_queue:
  tag_concurrency_limits:
    - key: "pulse/warehouse"
      limit: 1
"""


def _ensure_logging() -> None:
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        logging.getLogger("pulse.alerts").addHandler(handler)


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The persistent Dagster instance of these settings (``dagster.yaml`` written if missing)."""
    home = Path(settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_DAGSTER_YAML)
    return dg.DagsterInstance.from_config(str(home))


def event_date_bounds(settings: Settings) -> tuple[dt.date, dt.date] | None:
    """First and last ``event_date`` partition of bronze/events, from the Delta log (no data read)."""
    import pyarrow as pa
    from deltalake import DeltaTable

    actions = pa.table(
        DeltaTable(str(settings.table_path("bronze", "events"))).get_add_actions(flatten=True)
    )
    if not actions.num_rows or "partition.event_date" not in actions.column_names:
        return None
    values = [v for v in actions.column("partition.event_date").to_pylist() if v is not None]
    if not values:
        return None
    dates = [v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)) for v in values]
    return min(dates), max(dates)


def _as_date(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def materialize_all(
    settings: Settings,
    selection: str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    *,
    definitions: DefinitionsFactory,
    verbose: bool = False,
) -> bool:
    """Observe bronze, materialize ``selection`` (default: every asset but the Delta
    maintenance), report; True on success.

    ``selection`` uses Dagster's selection syntax, e.g. ``"key:exec_daily_kpis+"`` or
    ``"group:marts_core"``; a bare asset name like ``"exec_daily_kpis+"`` works too.

    Daily-partitioned models are built in one run (single-run backfill) for the partitions
    ``start``..``end`` (inclusive dates; default: the first and last ``event_date`` in
    bronze/events), clamped to the partitions that exist; everything else is rebuilt whole, all in
    dependency order in one run. ``pulse materialize --start D --end D`` is a backfill of a range.

    The console gets one line per asset and check. Unless ``verbose``, the raw stream (dbt's
    event lines, Dagster's DEBUG events) goes to ``<data>/logs/materialize.log``; the run's full
    event log is in the Dagster instance either way.
    """
    _ensure_logging()
    from core.metadata import engine_for
    from orchestration.alerting.rules import AlertRulesError
    from orchestration.alerting.sources import run_failure_occurrence
    from orchestration.alerting.store import now_utc, record_occurrence
    from orchestration.jobs import BRONZE_SELECTION, DEFAULT_SELECTION, full_refresh_job
    from orchestration.partitions import PARTITIONS_START_DATE, clamp_range
    from orchestration.schedules import partition_range_tags
    from orchestration.sensors.alerts import alert_on_failed_checks, rules_for

    started = time.monotonic()
    events = settings.table_path("bronze", "events")
    if not _is_delta_table(events):
        log.error(
            "no events to build from: %s is not a Delta table yet. Ingest events first: "
            "`pulse demo --no-serve` (simulated world), or run `pulse collector` and send events "
            "with a write key from `pulse sources add NAME`.",
            events,
        )
        return False
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    defs = definitions(settings)
    # A broken alert rules file fails now, before the run, not after it.
    try:
        rules = rules_for(settings, defs.get_repository_def())
    except AlertRulesError as exc:
        log.error("%s", exc)
        return False
    graph = defs.resolve_asset_graph()
    wanted = _coerce_selection(selection) or DEFAULT_SELECTION
    # Bronze is always observed first: the run records which Delta versions it was built from.
    keys = (wanted | BRONZE_SELECTION).resolve(graph)
    job = defs.resolve_job_def(full_refresh_job.name)
    tags = {"pulse/trigger": "pulse materialize"}
    if any(graph.get(k).is_partitioned for k in keys):
        bounds = event_date_bounds(settings)
        first = _as_date(start) or (bounds[0] if bounds else None)
        last = _as_date(end) or (bounds[1] if bounds else None)
        window = clamp_range(first, last) if first and last else None
        if window is None:
            log.error(
                "no event-date partitions to build (events span %s..%s, partitions start %s); "
                "pass --start/--end within the partitions",
                first,
                last,
                PARTITIONS_START_DATE,
            )
            return False
        if (first, last) != window:
            log.warning("event dates %s..%s clamped to partitions %s..%s", first, last, *window)
        log.info("daily partitions %s..%s in one run", *window)
        tags.update(partition_range_tags(*window))

    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    raw_log = log_dir / "materialize.log"
    with instance_for(settings) as instance:
        with contextlib.ExitStack() as quiet:
            if not verbose:
                log.info("running; dbt and Dagster output goes to %s", raw_log)
                quiet.enter_context(
                    contextlib.redirect_stdout(quiet.enter_context(raw_log.open("a")))
                )
            result = job.execute_in_process(
                instance=instance,
                asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
                raise_on_error=False,
                tags=tags,
                run_config={
                    "loggers": {
                        "console": {"config": {"log_level": "DEBUG" if verbose else "WARNING"}}
                    }
                },
            )
        _log_summary(result)
        engine = engine_for(settings)
        alert_ids, _ = alert_on_failed_checks(
            instance, engine, list(graph.asset_check_keys), rules=rules
        )
        ok = result.success
        if not ok:
            occurrence = run_failure_occurrence(
                rules,
                result.run_id,
                job.name,
                "`pulse materialize`: " + "; ".join(_failure_messages(result))[:1500],
                now_utc(),
            )
            recorded = record_occurrence(engine, occurrence)
            alert_ids.append(recorded[0] if recorded else None)
    log.info(
        "materialize %s in %.1fs (run %s)%s",
        "succeeded" if ok else "FAILED",
        time.monotonic() - started,
        result.run_id,
        f"; {len([a for a in alert_ids if a])} alert(s) raised" if any(alert_ids) else "",
    )
    return ok


def rederive(
    settings: Settings,
    dates: tuple[dt.date, dt.date] | None,
    selection: str | None = None,
    *,
    definitions: DefinitionsFactory,
) -> bool:
    """Rebuild the dbt models (the daily partitions of ``dates`` when given; unpartitioned
    models whole) and everything downstream (gold publication, ML), so no aggregate still counts
    an erased user. ``selection`` narrows it (default: everything ``pulse materialize`` builds).
    True on success."""
    if dates is None:
        return materialize_all(settings, selection, definitions=definitions)
    return materialize_all(
        settings, selection, start=dates[0], end=dates[1], definitions=definitions
    )


def _is_delta_table(path: Path) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(str(path))


def _coerce_selection(selection: str | None) -> dg.AssetSelection | None:
    if not selection:
        return None
    if ":" in selection or " " in selection:
        return dg.AssetSelection.from_string(selection)
    # a bare name with optional +/* graph operators: "exec_daily_kpis+", "+churn_model"
    return dg.AssetSelection.from_string(_bare_to_key_syntax(selection))


def _bare_to_key_syntax(selection: str) -> str:
    head = len(selection) - len(selection.lstrip("+*"))
    tail = len(selection) - len(selection.rstrip("+*"))
    name = selection[head : len(selection) - tail]
    return f"{selection[:head]}key:{name}{selection[len(selection) - tail :]}"


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        f"{e.step_key}: {e.event_specific_data.error.message.strip()[:300]}"
        for e in result.all_events
        if e.is_step_failure and e.event_specific_data and e.event_specific_data.error
    ]


def _log_summary(result: dg.ExecuteInProcessResult) -> None:
    for event in result.get_asset_observation_events():
        obs = event.asset_observation_data.asset_observation
        rows = obs.metadata.get("dagster/row_count")
        log.info(
            "observed     %-20s rows=%s delta_version=%s",
            obs.asset_key.to_user_string(),
            rows.value if rows is not None else "-",
            obs.tags.get("dagster/data_version", "?"),
        )
    partitions: dict[str, list[str]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.partition is not None:
            partitions.setdefault(mat.asset_key.to_user_string(), []).append(mat.partition)
            continue
        meta = mat.metadata
        rows = meta.get("dagster/row_count")
        extra = ", ".join(
            f"{k}={meta[k].value:.3f}"
            if isinstance(meta[k].value, float)
            else f"{k}={meta[k].value}"
            for k in ("auc", "drift_share", "skipped_reason")
            if k in meta and meta[k].value is not None
        )
        log.info(
            "materialized %-20s rows=%s %s",
            mat.asset_key.to_user_string(),
            rows.value if rows is not None else "-",
            extra,
        )
    for key, parts in sorted(partitions.items()):
        log.info(
            "materialized %-20s partitions %s..%s (%d)", key, min(parts), max(parts), len(parts)
        )
    evaluations = result.get_asset_check_evaluations()
    failed = [e for e in evaluations if not e.passed]
    log.info("checks: %d passed, %d failed", len(evaluations) - len(failed), len(failed))
    for evaluation in failed:
        log.warning(
            "check FAILED %s on %s: %s",
            evaluation.check_name,
            evaluation.asset_key.to_user_string(),
            evaluation.description or "",
        )
    for message in _failure_messages(result):
        log.error("step failed %s", message)
