"""Anomaly detection quality: precision, recall, detection delay and false alarms over seeds.

For each seed a world is simulated (``users`` x ``days``, ending on a fixed date), turned into the
observation frame the lake receives, and the detector (:mod:`quality.anomaly`) is evaluated on the
last two weeks, the earlier weeks being its history:

1. on the clean frame: every alert is a false alarm (the goal: at most one per simulated week);
2. with ``incidents`` random incidents injected (:mod:`lake.simulator.incidents`): an incident
   is *detected* when an alert of its kind on its series fires within one hour of its start
   (data time); an alert is *attributable* when it starts during an incident (or within the hour
   after it) on the incident's series, or anywhere for the lake-wide kinds (duplicates, late).

precision = attributable alerts / alerts, recall = detected incidents / injected incidents.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass
from typing import Any

import polars as pl

from lake.simulator import SimConfig, generate_world
from lake.simulator.incidents import Incident, inject, observations, random_incidents
from quality.anomaly import DetectorConfig, detect, group_alerts

END = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
EVAL_WEEKS = 2
DETECT_WITHIN = dt.timedelta(hours=1)
# Which alert family reports which incident kind.
FAMILY = {
    "volume_drop": "volume_drop",
    "null_property": "null_rate",
    "duplicate_storm": "duplicates",
    "late_surge": "late",
}
GLOBAL_KINDS = {"duplicate_storm", "late_surge"}


@dataclass
class SeedScore:
    seed: int
    events: int
    clean_alerts: int
    alerts: int
    attributable: int
    detected: int
    incidents: int
    delays_minutes: list[float]
    missed: list[dict[str, Any]]


def _matches(incident: Incident, alert: dict[str, Any]) -> bool:
    if alert["family"] != FAMILY[incident.kind]:
        return False
    if incident.kind == "volume_drop":
        return alert["series"] == incident.series
    if incident.kind == "null_property":
        return alert["series"] == incident.series and alert["property"] == incident.prop
    return True


def _attributable(incidents: list[Incident], alert: dict[str, Any]) -> bool:
    for inc in incidents:
        if not inc.start <= alert["first_flagged"] <= inc.end + DETECT_WITHIN:
            continue
        if inc.kind in GLOBAL_KINDS or alert["series"] == inc.series:
            return True
    return False


def score(
    incidents: list[Incident],
    alerts: pl.DataFrame,
    clean_alerts: pl.DataFrame,
    seed: int,
    events: int,
) -> SeedScore:
    rows = alerts.to_dicts()
    delays, missed = [], []
    for inc in incidents:
        hits = [
            a["first_flagged"]
            for a in rows
            if _matches(inc, a) and inc.start < a["first_flagged"] <= inc.start + DETECT_WITHIN
        ]
        if hits:
            delays.append((min(hits) - inc.start).total_seconds() / 60)
        else:
            missed.append(inc.as_dict())
    return SeedScore(
        seed=seed,
        events=events,
        clean_alerts=clean_alerts.height,
        alerts=len(rows),
        attributable=sum(_attributable(incidents, a) for a in rows),
        detected=len(delays),
        incidents=len(incidents),
        delays_minutes=delays,
        missed=missed,
    )


def evaluate_seed(
    seed: int, users: int, days: int, n_incidents: int, config: DetectorConfig | None = None
) -> SeedScore:
    world = generate_world(SimConfig(users=users, days=days, seed=seed, end_date=END.date()))
    frame = observations(world)
    evaluate_from = END - dt.timedelta(weeks=EVAL_WEEKS)
    clean = group_alerts(detect(frame, evaluate_from, END, config))
    incidents = random_incidents(frame, evaluate_from, END, n_incidents, seed)
    dirty = frame
    for i, incident in enumerate(incidents):
        dirty = inject(dirty, incident, seed=seed * 100 + i)
    alerts = group_alerts(detect(dirty, evaluate_from, END, config))
    return score(incidents, alerts, clean, seed, frame.height)


def run(
    seeds: list[int], users: int = 6000, days: int = 42, incidents: int = 6
) -> tuple[dict[str, Any], list[dict[str, Any]], list[SeedScore]]:
    started = time.perf_counter()
    scores = [evaluate_seed(s, users, days, incidents) for s in seeds]
    alerts = sum(s.alerts for s in scores)
    attributable = sum(s.attributable for s in scores)
    injected = sum(s.incidents for s in scores)
    detected = sum(s.detected for s in scores)
    delays = [d for s in scores for d in s.delays_minutes]
    normal_weeks = EVAL_WEEKS * len(scores)
    false_alarms = sum(s.clean_alerts for s in scores)
    worst_week = max(s.clean_alerts / EVAL_WEEKS for s in scores)
    params = {
        "seeds": ",".join(map(str, seeds)),
        "world": f"{users} users x {days} days",
        "evaluated": f"last {EVAL_WEEKS} weeks of each world",
        "incidents_per_seed": incidents,
        "events_per_seed": round(statistics.mean(s.events for s in scores)),
        "total_s": round(time.perf_counter() - started, 1),
    }
    metrics = [
        {
            "metric": "recall (detected within 1 h / injected)",
            "value": detected / injected,
            "unit": f"{detected}/{injected}",
            "goal": "every injected incident",
        },
        {
            "metric": "precision (attributable alerts / alerts)",
            "value": attributable / alerts if alerts else 1.0,
            "unit": f"{attributable}/{alerts}",
        },
        {
            "metric": "detection delay, median",
            "value": statistics.median(delays) if delays else 0.0,
            "unit": "min (data time)",
            "goal": "≤ 60",
        },
        {
            "metric": "detection delay, max",
            "value": max(delays) if delays else 0.0,
            "unit": "min (data time)",
            "goal": "≤ 60",
        },
        {
            "metric": "false alarms per normal week (mean)",
            "value": false_alarms / normal_weeks,
            "unit": f"{false_alarms} in {normal_weeks} weeks",
            "goal": "≤ 1",
        },
        {
            "metric": "false alarms per normal week (worst seed)",
            "value": worst_week,
            "unit": "alerts/week",
            "goal": "≤ 1",
        },
    ]
    return params, metrics, scores
