"""Headless materialization (``pulse materialize``, the demo, integration tests).

Runs in-process through ``dagster.materialize`` against the persistent instance under
``settings.dagster_home`` (SQLite), so runs, materializations and check results show up in the
Dagster UI afterwards. Steps: observe the bronze tables, materialize the selection, log one line per
asset and check, then raise alerts for failed checks / a failed run (idempotent with the sensors,
which do the same when the daemon runs).
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import dagster as dg

from pulse.settings import Settings

log = logging.getLogger("pulse.materialize")

_DAGSTER_YAML = """\
# Written by Pulse (orchestration/materialize.py). SQLite storage under this directory.
telemetry:
  enabled: false
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


def materialize_all(
    settings: Settings, selection: str | None = None, *, verbose: bool = False
) -> bool:
    """Observe bronze, materialize ``selection`` (default: every asset), report; True on success.

    ``selection`` uses Dagster's selection syntax, e.g. ``"key:exec_daily_kpis+"`` or
    ``"group:marts"``; a bare asset name like ``"exec_daily_kpis+"`` works too.

    The console gets one line per asset and check. Unless ``verbose``, the raw stream (dbt's
    event lines, Dagster's DEBUG events) goes to ``<data>/logs/materialize.log``; the run's full
    event log is in the Dagster instance either way.
    """
    _ensure_logging()
    from orchestration.alerts import raise_alert
    from orchestration.definitions import build_defs
    from orchestration.jobs import BRONZE_SELECTION, full_refresh_job
    from orchestration.sensors.alerts import alert_on_failed_checks
    from pulse.metadata import engine_for

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
    defs = build_defs(settings)
    graph = defs.resolve_asset_graph()
    wanted = _coerce_selection(selection) or dg.AssetSelection.all()
    # Bronze is always observed first: the run records which Delta versions it was built from.
    keys = (wanted | BRONZE_SELECTION).resolve(graph)
    job = defs.resolve_job_def(full_refresh_job.name)

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
                tags={"pulse/trigger": "pulse materialize"},
                run_config={
                    "loggers": {
                        "console": {"config": {"log_level": "DEBUG" if verbose else "WARNING"}}
                    }
                },
            )
        _log_summary(result)
        engine = engine_for(settings)
        alert_ids, _ = alert_on_failed_checks(instance, engine, list(graph.asset_check_keys))
        ok = result.success
        if not ok:
            alert_ids.append(
                raise_alert(
                    engine,
                    severity="error",
                    source="run_failure",
                    dagster_run_id=result.run_id,
                    message=f"`pulse materialize` run {result.run_id[:8]} failed: "
                    + "; ".join(_failure_messages(result))[:1500],
                    dedupe_key=f"run:{result.run_id}",
                )
            )
    log.info(
        "materialize %s in %.1fs (run %s)%s",
        "succeeded" if ok else "FAILED",
        time.monotonic() - started,
        result.run_id,
        f"; {len([a for a in alert_ids if a])} alert(s) raised" if any(alert_ids) else "",
    )
    return ok


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
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
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
