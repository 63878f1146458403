"""``quality/quality_scores``: a quality score per table per day (:mod:`quality.scores`) in the
Delta table ``<lake>/system/quality_scores``.

It scores the last ``days`` days of *data time* of each table (up to its newest date, so a
replayed or simulated history is scored like live data): bronze/events by received date from the
Delta table (pruned by ``received_at`` file statistics), the daily marts by their date column from
the current gold publication. Each table's scored range is replaced, so re-runs are idempotent. Its warning check
``quality_scores_meet_target`` fails when a table misses the target (more than 95 % complete and
valid) on the newest day.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from core.settings import Settings
from orchestration.assets.bronze import BRONZE_KEYS
from orchestration.assets.publish import GOLD_PUBLICATION
from orchestration.resources import PulseResource

SCORES_TABLE = ("system", "quality_scores")
QUALITY_SCORES = dg.AssetKey(["quality", "quality_scores"])
EVENT_COLUMNS = [
    "message_id",
    "type",
    "event",
    "user_id",
    "anonymous_id",
    "timestamp",
    "received_at",
    "source_id",
    "properties",
]


class QualityScoresConfig(dg.Config):
    days: int = 7  # received dates scored, ending at the newest bronze event
    timeliness_minutes: float = (
        60.0  # an event received later than this after its timestamp is late
    )
    target: float = 0.95


def _delta(path: Path):
    from deltalake import DeltaTable

    return DeltaTable(str(path)) if DeltaTable.is_deltatable(str(path)) else None


def newest_received(settings: Settings) -> dt.datetime | None:
    """The newest ``received_at`` in bronze/events (max of the files' statistics)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _delta(settings.table_path("bronze", "events"))
    if table is None:
        return None
    actions = pa.table(table.get_add_actions(flatten=True))
    column = "max.received_at"
    if not actions.num_rows or column not in actions.column_names:
        return None
    return pc.max(actions[column]).as_py()


def read_bronze(settings: Settings, since: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Events received since ``since`` and quarantine rows of those received dates."""
    import pyarrow.dataset as ds

    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    events = _delta(settings.table_path("bronze", "events"))
    ev = pl.from_arrow(
        events.to_pyarrow_dataset().to_table(
            columns=EVENT_COLUMNS, filter=ds.field("received_at") >= start
        )
    )
    quarantine = _delta(settings.table_path("bronze", "quarantine"))
    q = (
        pl.from_arrow(
            quarantine.to_pyarrow_table(
                columns=["received_date"], filters=[("received_date", ">=", since)]
            )
        )
        if quarantine is not None
        else pl.DataFrame(schema={"received_date": pl.Date})
    )
    return ev, q


def known_users(settings: Settings) -> set[str] | None:
    """user_id of the app's latest users export (None when no export was landed)."""
    users = _delta(settings.table_path("bronze", "app_users"))
    if users is None:
        return None
    return set(users.to_pyarrow_table(columns=["user_id"]).column("user_id").to_pylist())


def compute_scores(settings: Settings, config: QualityScoresConfig) -> pl.DataFrame:
    """Every table-day score of the configured window (empty without bronze events)."""
    from lake import gold
    from quality.scores import MART_RULES, SCORES_SCHEMA, bronze_event_scores, mart_scores

    newest = newest_received(settings)
    if newest is None:
        return pl.DataFrame(schema=SCORES_SCHEMA)
    since = newest.date() - dt.timedelta(days=config.days - 1)
    events, quarantine = read_bronze(settings, since)
    frames = [
        bronze_event_scores(
            events,
            quarantine,
            known_users(settings),
            dt.timedelta(minutes=config.timeliness_minutes),
            config.target,
        )
    ]
    if gold.current_id(settings) is not None:
        with gold.pinned(settings) as publication:
            dims = {"users": set(gold.read_mart(settings, "dim_users")["user_id"].to_list())}
            for rule in MART_RULES:
                if rule.table not in publication.models:
                    continue
                mart = gold.read_mart(settings, rule.table)
                if mart.is_empty():
                    continue
                # the mart's own data time: its newest date and the days before it
                newest_day = mart[rule.date_column].cast(pl.Date).max()
                first_day = newest_day - dt.timedelta(days=config.days - 1)
                mart = mart.filter(pl.col(rule.date_column).cast(pl.Date) >= first_day)
                frames.append(mart_scores(rule, mart, dims, config.target))
    return pl.concat(frames).sort("date", "table")


def write_scores(settings: Settings, scores: pl.DataFrame) -> None:
    """Replace, table by table, the scored range (from the table's first scored date on)."""
    from deltalake import write_deltalake

    path = settings.table_path(*SCORES_TABLE)
    data = scores.with_columns(computed_at=pl.lit(dt.datetime.now(dt.UTC))).to_arrow()
    if _delta(path) is None:
        path.mkdir(parents=True, exist_ok=True)
        write_deltalake(str(path), data, mode="append")
        return
    ranges = scores.group_by("table").agg(pl.col("date").min()).sort("table").rows()
    predicate = " OR ".join(f"(\"table\" = '{t}' AND date >= '{d.isoformat()}')" for t, d in ranges)
    write_deltalake(str(path), data, mode="overwrite", predicate=predicate)


def read_scores(settings: Settings) -> pl.DataFrame:
    table = _delta(settings.table_path(*SCORES_TABLE))
    return pl.DataFrame() if table is None else pl.from_arrow(table.to_pyarrow_table())


@dg.asset(
    key=QUALITY_SCORES,
    group_name="quality",
    kinds={"polars", "delta"},
    deps=[BRONZE_KEYS["events"], BRONZE_KEYS["quarantine"], GOLD_PUBLICATION],
    description="Quality score per table per day (completeness, validity, uniqueness, "
    "timeliness, consistency; weighted mean vs the 95 % target): docs/quality.md.",
    check_specs=[
        dg.AssetCheckSpec(
            "quality_scores_meet_target",
            asset=QUALITY_SCORES,
            description="Every table scored on the newest day is more than 95 % complete and "
            "valid (warning).",
        )
    ],
)
def quality_scores(
    context: dg.AssetExecutionContext, config: QualityScoresConfig, pulse: PulseResource
):
    if config.days < 1 or config.timeliness_minutes <= 0 or not 0 < config.target <= 1:
        raise dg.Failure(
            f"bad quality_scores config {config.model_dump()}: need days >= 1, "
            "timeliness_minutes > 0 and 0 < target <= 1"
        )
    settings = pulse.settings()
    scores = compute_scores(settings, config)
    if scores.is_empty():
        yield dg.MaterializeResult(metadata={"table_days": 0, "note": "no bronze events yet"})
        yield dg.AssetCheckResult(passed=True, check_name="quality_scores_meet_target")
        return
    write_scores(settings, scores)
    # each table's newest scored day
    newest = scores.filter(pl.col("date") == pl.col("date").max().over("table"))
    missing = newest.filter(~pl.col("meets_target"))
    yield dg.MaterializeResult(
        metadata={
            "table_days": scores.height,
            "dagster/row_count": scores.height,
            "from": str(scores["date"].min()),
            "to": str(scores["date"].max()),
            "tables_meeting_target_newest_day": f"{newest.height - missing.height}/{newest.height}",
            "preview": dg.MetadataValue.md(_markdown(newest)),
        }
    )
    yield dg.AssetCheckResult(
        check_name="quality_scores_meet_target",
        passed=missing.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        description="all tables meet the target"
        if missing.is_empty()
        else "below target: "
        + ", ".join(
            f"{t} (completeness {c:.3f}, validity {'–' if v is None else f'{v:.3f}'}, "
            f"score {s:.3f})"
            for t, c, v, s in missing.select("table", "completeness", "validity", "score").rows()
        ),
    )


def _markdown(frame: pl.DataFrame) -> str:
    cols = ["table", "completeness", "validity", "uniqueness", "timeliness", "consistency", "score"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.select(cols).rows():
        lines.append(
            "| "
            + " | ".join(
                str(v) if isinstance(v, str) else "–" if v is None else f"{v:.4f}" for v in row
            )
            + " |"
        )
    return "\n".join(lines)


QUALITY_SCORE_ASSETS = [quality_scores]
