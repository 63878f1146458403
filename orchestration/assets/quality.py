"""``event_anomalies``: the anomaly detectors of :mod:`quality.anomaly` over bronze/events.

Every hour (schedule ``event_monitoring_hourly``) the asset reads the last few weeks of bronze
events (the detectors' history), evaluates the windows that ended in the last ``lookback_hours``
of *data time* (up to the newest event, so a replayed or simulated history is judged the same
way as live data) and replaces that range in the Delta table ``system/event_anomalies``, so
re-runs are idempotent. Its blocking-free check ``no_open_event_anomalies`` fails (warning) when
an anomaly is open: the check-failure alert sensor turns that into an alert.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from orchestration.assets.bronze import BRONZE_KEYS
from orchestration.resources import PulseResource

ANOMALIES_TABLE = ("system", "event_anomalies")
EVENT_ANOMALIES = dg.AssetKey(["quality", "event_anomalies"])


class AnomalyConfig(dg.Config):
    lookback_hours: int = 24  # windows ending in this span (data time) are (re-)evaluated
    baseline_weeks: int = 3


def bronze_observations(events_path: Path, since: dt.date) -> pl.DataFrame:
    """bronze/events since ``since`` as the detectors' observation frame."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(str(events_path)):
        return pl.DataFrame()
    table = DeltaTable(str(events_path)).to_pyarrow_table(
        columns=[
            "message_id",
            "type",
            "event",
            "name",
            "timestamp",
            "received_at",
            "properties",
        ],
        filters=[("event_date", ">=", since)],
    )
    # As lake.simulator.incidents.series_name: screens and pages count per screen/page name.
    named = pl.col("type").is_in(["screen", "page"]) & (pl.col("name").str.len_chars() > 0)
    return pl.from_arrow(table).select(
        "message_id",
        series=pl.when(pl.col("type") == "track")
        .then(pl.col("event"))
        .when(named)
        .then(pl.col("type") + ":" + pl.col("name"))
        .otherwise(pl.col("type"))
        .cast(pl.String),
        timestamp=pl.col("timestamp"),
        received_at=pl.col("received_at"),
        properties=pl.col("properties").cast(pl.String),
    )


def _write(path: Path, anomalies: pl.DataFrame, evaluate_from: dt.datetime) -> None:
    """Replace the evaluated range of the anomalies table with ``anomalies``."""
    from deltalake import DeltaTable, write_deltalake

    data = anomalies.with_columns(detected_at=pl.lit(dt.datetime.now(dt.UTC))).to_arrow()
    if not DeltaTable.is_deltatable(str(path)):
        path.mkdir(parents=True, exist_ok=True)
        write_deltalake(str(path), data, mode="append")
        return
    stamp = evaluate_from.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_deltalake(
        str(path),
        data,
        mode="overwrite",
        predicate=f"window_end > '{stamp}'",  # every new row is in this range
    )


@dg.asset(
    key=EVENT_ANOMALIES,
    group_name="quality",
    kinds={"polars", "delta"},
    deps=[BRONZE_KEYS["events"]],
    description="Anomalous windows of event volume, null rates, duplicates and late data.",
    check_specs=[
        dg.AssetCheckSpec(
            "no_open_event_anomalies",
            asset=EVENT_ANOMALIES,
            description="No anomaly flagged in the newest evaluation (warning: alerts on-call).",
        )
    ],
)
def event_anomalies(context: dg.AssetExecutionContext, config: AnomalyConfig, pulse: PulseResource):
    from quality.anomaly import DetectorConfig, detect, group_alerts

    settings = pulse.settings()
    detector = DetectorConfig(baseline_weeks=config.baseline_weeks)
    newest = _newest_event(settings.table_path("bronze", "events"))
    if newest is None:
        yield dg.MaterializeResult(metadata={"anomalies": 0, "note": "no bronze events yet"})
        yield dg.AssetCheckResult(passed=True, check_name="no_open_event_anomalies")
        return
    end = _floor(newest, detector.step)  # the last complete window ends here
    evaluate_from = end - dt.timedelta(hours=config.lookback_hours)
    history = dt.timedelta(weeks=config.baseline_weeks + 1, days=1)
    frame = bronze_observations(settings.table_path("bronze", "events"), (end - history).date())
    anomalies = detect(frame, evaluate_from, end, detector)
    _write(settings.table_path(*ANOMALIES_TABLE), anomalies, evaluate_from)
    alerts = group_alerts(anomalies)
    context.log.info(
        "evaluated %s events, windows ending %s .. %s: %s anomalous windows, %s alerts",
        frame.height,
        evaluate_from,
        end,
        anomalies.height,
        alerts.height,
    )
    by_kind = anomalies.group_by("kind").len().sort("kind").rows() if anomalies.height else []
    yield dg.MaterializeResult(
        metadata={
            "events_read": frame.height,
            "evaluated_from": evaluate_from.isoformat(),
            "evaluated_to": end.isoformat(),
            "anomalous_windows": anomalies.height,
            "alerts": alerts.height,
            **{f"windows/{kind}": n for kind, n in by_kind},
            "preview": dg.MetadataValue.md(_markdown(alerts)),
        }
    )
    open_now = alerts.filter(pl.col("last_flagged") >= end - dt.timedelta(hours=1))
    yield dg.AssetCheckResult(
        check_name="no_open_event_anomalies",
        passed=open_now.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "no anomaly in the last hour"
            if open_now.is_empty()
            else "; ".join(
                f"{r['family']} on {r['series']}"
                + (f".{r['property']}" if r["property"] else "")
                + f" since {r['first_flagged']:%Y-%m-%d %H:%M} UTC"
                for r in open_now.iter_rows(named=True)
            )
        ),
        metadata={"open_alerts": open_now.height},
    )


def _floor(ts: dt.datetime, step: dt.timedelta) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return epoch + ((ts - epoch) // step) * step


def _newest_event(events_path: Path) -> dt.datetime | None:
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(str(events_path)):
        return None
    newest = pl.scan_delta(str(events_path)).select(pl.col("timestamp").max()).collect().item()
    return None if newest is None else newest.astimezone(dt.UTC)


def _markdown(alerts: pl.DataFrame, limit: int = 20) -> str:
    if alerts.is_empty():
        return "no anomalies"
    lines = ["| kind | series | property | first flagged | windows |", "|---|---|---|---|---:|"]
    for r in alerts.head(limit).iter_rows(named=True):
        lines.append(
            f"| {r['family']} | {r['series']} | {r['property'] or ''} | "
            f"{r['first_flagged']:%Y-%m-%d %H:%M} | {r['windows']} |"
        )
    return "\n".join(lines)


event_monitoring_job = dg.define_asset_job(
    name="event_monitoring",
    selection=dg.AssetSelection.assets(EVENT_ANOMALIES),
    description="Run the event-stream anomaly detectors on the newest data.",
)
event_monitoring_schedule = dg.ScheduleDefinition(
    name="event_monitoring_hourly",
    job=event_monitoring_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly, five minutes past: detect anomalies in the last day of events.",
)

QUALITY_ASSETS = [event_anomalies]
QUALITY_JOBS = [event_monitoring_job]
QUALITY_SCHEDULES = [event_monitoring_schedule]
