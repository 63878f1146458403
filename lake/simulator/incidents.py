"""Injectable data incidents, for testing and measuring anomaly detection.

A world's message stream is turned into an *observation frame* (one row per event as the lake
receives it: message_id, series, timestamp, received_at, properties) by :func:`observations`, and
incidents rewrite that frame the way a real failure would:

* ``volume_drop``: a tracking call breaks in one app release, so only ``keep`` of one event's
  messages arrive for a while (``keep=0`` is an event type going missing);
* ``null_property``: a tracking bug sends one property as null on a share of one event's messages;
* ``duplicate_storm``: a client retry loop resends ``factor`` copies of everything it sends;
* ``late_surge``: devices that were offline sync hours-old events all at once.

:func:`random_incidents` draws a seeded schedule of them inside a time range, and returns the
ground truth (what, which series, when) that detection is scored against.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import asdict, dataclass

import numpy as np
import orjson
import polars as pl

from lake.simulator.world import World

INCIDENT_KINDS = ("volume_drop", "null_property", "duplicate_storm", "late_surge")
OBSERVATION_SCHEMA = {
    "message_id": pl.String,
    "series": pl.String,
    "timestamp": pl.Datetime("us", "UTC"),
    "received_at": pl.Datetime("us", "UTC"),
    "properties": pl.String,
}


@dataclass(frozen=True)
class Incident:
    kind: str
    start: dt.datetime
    duration: dt.timedelta
    series: str | None = None  # volume_drop, null_property
    prop: str | None = None  # null_property: the property name
    keep: float = 0.1  # volume_drop: share of messages that still arrive
    share: float = 1.0  # null_property: share of messages affected
    factor: int = 3  # duplicate_storm: copies of each message
    events: int = 400  # late_surge: how many old events arrive

    def __post_init__(self) -> None:
        if self.kind not in INCIDENT_KINDS:
            raise ValueError(
                f"unknown incident kind {self.kind!r}; expected one of {INCIDENT_KINDS}"
            )
        if self.kind in ("volume_drop", "null_property") and not self.series:
            raise ValueError(f"a {self.kind} incident needs a series (event name)")
        if self.kind == "null_property" and not self.prop:
            raise ValueError("a null_property incident needs a property")

    @property
    def end(self) -> dt.datetime:
        return self.start + self.duration

    def as_dict(self) -> dict:
        d = asdict(self)
        d["start"] = self.start.isoformat()
        d["duration_minutes"] = self.duration.total_seconds() / 60
        del d["duration"]
        return d


def series_name(kind: object, event: object, name: object) -> str | None:
    """The series a message counts in: its event name for ``track``, ``screen:<name>`` /
    ``page:<name>`` for screens and pages (each screen has its own volume and properties, so a
    broken screen is not hidden among the others), else the message type."""
    if kind == "track":
        return event if isinstance(event, str) else None
    if kind in ("screen", "page") and isinstance(name, str) and name:
        return f"{kind}:{name}"
    return kind if isinstance(kind, str) else None


def observations(world: World) -> pl.DataFrame:
    """The world's valid messages as the lake would receive them.

    ``received_at`` is the event time plus a small network delay, or a time on the day the app
    actually sent it for the simulator's late messages.
    """
    events = pl.from_arrow(world.events.select(["message_id", "day", "send_day", "payload"]))
    rng = random.Random(world.config.seed)
    rows = []
    for mid, day, send_day, payload in events.iter_rows():
        msg = orjson.loads(payload)
        if mid is None or not isinstance(msg.get("timestamp"), str):
            continue
        try:
            ts = dt.datetime.fromisoformat(msg["timestamp"].replace("Z", "+00:00"))
        except ValueError:
            continue  # malformed on purpose: quarantined, never observed
        series = series_name(msg.get("type"), msg.get("event"), msg.get("name"))
        if series is None:
            continue
        if send_day != day:
            start = dt.datetime.combine(send_day, dt.time(), dt.UTC)
            received = start + dt.timedelta(seconds=rng.uniform(0, 86_399))
        else:
            received = ts + dt.timedelta(milliseconds=rng.uniform(50, 3_000))
        props = msg.get("properties")
        body = orjson.dumps(props).decode() if props is not None else None
        rows.append((mid, series, ts, received, body))
    return pl.DataFrame(rows, schema=OBSERVATION_SCHEMA, orient="row")


def synthetic_stream(
    start: dt.datetime,
    end: dt.datetime,
    series: dict[str, tuple[float, dict]],
    seed: int = 0,
) -> pl.DataFrame:
    """A bare observation frame: per series ``(events per hour, properties)``, Poisson arrivals
    with a daily cycle (peak at 12:00 UTC, trough at 00:00, +-50 %). For detector tests."""
    rng = np.random.default_rng(seed)
    minutes = int((end - start) / dt.timedelta(minutes=1))
    hour = (np.arange(minutes) / 60) % 24
    cycle = 1 + 0.5 * np.sin(2 * np.pi * (hour - 6) / 24)
    parts = []
    start_us = int(start.timestamp() * 1_000_000)
    for name, (per_hour, props) in series.items():
        counts = rng.poisson(per_hour / 60 * cycle)
        minute_idx = np.repeat(np.arange(minutes), counts)
        ts = start_us + minute_idx * 60_000_000 + rng.integers(0, 60_000_000, len(minute_idx))
        parts.append(
            pl.DataFrame(
                {
                    "message_id": [f"{name}-{i}" for i in range(len(ts))],
                    "series": name,
                    "timestamp": ts,
                    "received_at": ts + 1_000_000,
                    "properties": orjson.dumps(props).decode(),
                }
            )
        )
    return (
        pl.concat(parts)
        .with_columns(pl.col("timestamp", "received_at").cast(pl.Datetime("us", "UTC")))
        .select(list(OBSERVATION_SCHEMA))
        .cast(OBSERVATION_SCHEMA)
        .sort("timestamp")
    )


def inject(frame: pl.DataFrame, incident: Incident, seed: int = 0) -> pl.DataFrame:
    """The frame with ``incident`` applied (the input is not modified)."""
    rng = random.Random(seed)
    in_window = (pl.col("timestamp") >= incident.start) & (pl.col("timestamp") < incident.end)
    if incident.kind == "volume_drop":
        hit = in_window & (pl.col("series") == incident.series)
        keep = pl.Series([rng.random() < incident.keep for _ in range(frame.height)])
        return frame.filter(~hit | keep)
    if incident.kind == "null_property":
        hit = in_window & (pl.col("series") == incident.series)
        mask = frame.select(hit.alias("h"))["h"].to_list()
        props = frame["properties"].to_list()
        out = []
        for is_hit, p in zip(mask, props, strict=True):
            if is_hit and p and rng.random() < incident.share:
                d = orjson.loads(p)
                if isinstance(d, dict) and incident.prop in d:
                    d[incident.prop] = None
                    p = orjson.dumps(d).decode()
            out.append(p)
        return frame.with_columns(properties=pl.Series(out, dtype=pl.String))
    if incident.kind == "duplicate_storm":
        received_in = (pl.col("received_at") >= incident.start) & (
            pl.col("received_at") < incident.end
        )
        sent = frame.filter(received_in)
        copies = [
            sent.with_columns(received_at=pl.col("received_at") + dt.timedelta(seconds=5 * (i + 1)))
            for i in range(incident.factor - 1)
        ]
        return pl.concat([frame, *copies]).sort("received_at")
    # late_surge: events from the 3 days before arrive (again, for the first time) now
    old = (pl.col("timestamp") < incident.start - dt.timedelta(hours=2)) & (
        pl.col("timestamp") >= incident.start - dt.timedelta(days=3)
    )
    candidates = frame.with_row_index("_i").filter(old)
    n = min(incident.events, candidates.height)
    chosen = set(rng.sample(candidates["_i"].to_list(), n))
    span = incident.duration.total_seconds()
    offsets = [dt.timedelta(seconds=rng.uniform(0, span)) for _ in range(frame.height)]
    moved = pl.Series([i in chosen for i in range(frame.height)])
    new_received = pl.Series([incident.start + o for o in offsets], dtype=pl.Datetime("us", "UTC"))
    return frame.with_columns(
        received_at=pl.when(moved).then(new_received).otherwise(pl.col("received_at"))
    )


def random_incidents(
    frame: pl.DataFrame,
    start: dt.datetime,
    end: dt.datetime,
    count: int,
    seed: int,
    min_hourly: float = 20.0,
    min_effective_drop: float = 30.0,
    min_presence: float = 0.5,
) -> list[Incident]:
    """``count`` non-overlapping incidents of rotating kinds at random times in [start, end).

    Incidents go where an hour of data can show them (docs/anomaly-detection.md, "What can be
    detected"), judged at the hours of day each one starts in (its first two clock hours, on
    average over the frame):

    * volume drops pick series carrying at least ``min_effective_drop`` *effective* events an
      hour: events per hour divided by the series' index of dispersion (variance / mean of its
      hourly counts across days; bursty series like API calls carry less information per event).
      Below that a drop to 20 % cannot be told from chance within the hour at the detector's tail
      probability (1e-6, for at most one false alarm a week over thousands of windows): Poisson(30)
      gives P(X <= 6) ~ 1e-6;
    * null incidents pick series carrying at least ``min_hourly`` events an hour, and a property
      present on at least ``min_presence`` of the series' events (nulling half of a property that
      one event in eight carries changes one event an hour).
    """
    rng = random.Random(seed)
    effective, raw = _hourly_rates(frame)
    series_names = sorted(frame["series"].unique().drop_nulls().to_list())

    def hours_of(at: dt.datetime) -> tuple[int, int]:
        return at.hour, (at + dt.timedelta(hours=1)).hour

    def busy_at(at: dt.datetime, rates: dict[tuple[str, int], float], floor: float) -> list[str]:
        return [
            s for s in series_names if min(rates.get((s, h), 0.0) for h in hours_of(at)) >= floor
        ]

    props = _usual_properties(frame, min_presence)
    hours = (frame["timestamp"].max() - frame["timestamp"].min()).total_seconds() / 3600
    slot = (end - start) / count
    incidents = []
    for i in range(count):
        kind = INCIDENT_KINDS[(i + seed) % len(INCIDENT_KINDS)]
        # a random start inside this slot, leaving room for the incident to last
        duration = dt.timedelta(hours=rng.choice((2, 3, 4)))
        latest = slot - duration - dt.timedelta(hours=2)

        def draw_start(i: int = i, latest: dt.timedelta = latest) -> dt.datetime:
            at = start + i * slot + dt.timedelta(seconds=rng.uniform(0, latest.total_seconds()))
            return at.replace(second=0, microsecond=0)

        def candidates(at: dt.datetime, kind: str = kind) -> list[str]:
            if kind == "volume_drop":
                return busy_at(at, effective, min_effective_drop)
            return [s for s in busy_at(at, raw, min_hourly) if s in props]

        at = draw_start()
        if kind in ("volume_drop", "null_property"):
            for _ in range(200):  # a time of day when some series is busy enough
                if candidates(at):
                    break
                at = draw_start()
            options = candidates(at)
            if not options:
                raise ValueError(
                    f"no series is busy enough for a {kind} incident that can be detected within "
                    "the hour: simulate a bigger world"
                )
            series = rng.choice(options)
            if kind == "volume_drop":
                keep = rng.choice((0.0, 0.2))
                incidents.append(Incident(kind, at, duration, series=series, keep=keep))
            else:
                prop, share = rng.choice(props[series]), rng.choice((0.5, 1.0))
                incidents.append(
                    Incident(kind, at, duration, series=series, prop=prop, share=share)
                )
        elif kind == "duplicate_storm":
            incidents.append(Incident(kind, at, duration, factor=rng.choice((2, 3))))
        else:
            # one or two hours' worth of the stream's average traffic, whatever the world's size
            events = round(rng.choice((1.0, 2.0)) * frame.height / hours)
            incidents.append(Incident("late_surge", at, duration, events=events))
    return incidents


def _usual_properties(frame: pl.DataFrame, min_presence: float) -> dict[str, list[str]]:
    """series -> properties present (not null) on at least ``min_presence`` of 500 of its events."""
    out: dict[str, list[str]] = {}
    for (series,), part in frame.group_by("series").head(500).group_by("series"):
        seen: dict[str, int] = {}
        for text in part["properties"].to_list():
            parsed = orjson.loads(text) if text else None
            if isinstance(parsed, dict):
                for key, value in parsed.items():
                    if value is not None:
                        seen[key] = seen.get(key, 0) + 1
        usual = sorted(k for k, n in seen.items() if n >= min_presence * part.height)
        if usual:
            out[series] = usual
    return out


def _hourly_rates(
    frame: pl.DataFrame,
) -> tuple[dict[tuple[str, int], float], dict[tuple[str, int], float]]:
    """(series, hour of day) -> mean events in that hour, divided by the series' index of
    dispersion (effective) and as is (raw)."""
    per_day = frame.group_by(
        "series",
        pl.col("timestamp").dt.date().alias("day"),
        pl.col("timestamp").dt.hour().alias("hour"),
    ).len()
    days = max(1, frame["timestamp"].dt.date().n_unique())
    stats_ = per_day.group_by("series", "hour").agg(
        # hours of days without a single event count as zero
        mean=pl.col("len").sum() / days,
        var=pl.col("len").var(),
    )
    dispersion = stats_.group_by("series").agg(
        d=(pl.col("var") / pl.col("mean")).median().clip(lower_bound=1.0)
    )
    rows = stats_.join(dispersion, on="series").select(
        "series", "hour", "mean", (pl.col("mean") / pl.col("d").fill_null(1.0)).alias("effective")
    )
    effective = {(s, h): e for s, h, _, e in rows.iter_rows()}
    raw = {(s, h): m for s, h, m, _ in rows.iter_rows()}
    return effective, raw
