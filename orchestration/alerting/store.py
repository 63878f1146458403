"""Alert state on the app-metadata database (``core.metadata``: SQLite by default, PostgreSQL with
``PULSE_METADATA_URL``; same code).

Three tables:

- ``alerts`` (unchanged since the first release): one row per alert, its status
  (open → acknowledged → resolved), severity, message, asset/check/run.
- ``alert_details``: one row per rule-driven alert: rule, target, occurrence count, since/last
  seen, owner, channels and escalation. A *new* table rather than new columns on ``alerts``:
  metadata tables are created with ``METADATA.create_all``, which adds missing tables to an
  existing database but never columns to an existing table, so databases from older releases
  keep working without a migration. Alerts without details (raised by older code or by
  :func:`raise_alert`) are listed, acknowledged and resolved like the others but not delivered.
- ``alert_history``: every state change (raised, repeated, notified, delivery_failed, escalated,
  acknowledged, resolved) with its time, channel and actor. Time to acknowledge is read from it.

Grouping: an occurrence of rule R on target T joins the alert of (R, T) that is not resolved yet
(its count and last_seen grow, one history row); otherwise it opens a new alert. Each occurrence
may carry a key (a check evaluation, a run id, a publication id): a key seen before is ignored,
so a sensor that re-reads events never counts one problem twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.metadata import METADATA

log = logging.getLogger("pulse.alerts")

SEVERITIES = ("info", "warning", "error", "critical")
STATUSES = ("open", "acknowledged", "resolved")
EVENTS = (
    "raised",
    "repeated",
    "notified",
    "delivery_failed",
    "escalated",
    "acknowledged",
    "resolved",
)
SYSTEM_ACTOR = "pulse"

alerts = sa.Table(
    "alerts",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),  # asset_check | run_failure | ...
    sa.Column("asset_key", sa.String(512)),
    sa.Column("check_name", sa.String(256)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="open"),
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Column("dedupe_key", sa.String(512), unique=True),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint(f"severity IN {SEVERITIES}", name="ck_alerts_severity"),
    sa.CheckConstraint(f"status IN {STATUSES}", name="ck_alerts_status"),
    sa.Index("ix_alerts_status_created", "status", "created_at"),
)

alert_details = sa.Table(
    "alert_details",
    METADATA,
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), primary_key=True),
    sa.Column("rule", sa.String(128), nullable=False),
    sa.Column("target", sa.String(512), nullable=False),
    sa.Column("group_key", sa.String(700), nullable=False),  # rule + target
    sa.Column("occurrences", sa.Integer, nullable=False),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),  # when the problem began
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("owner", sa.String(128)),
    sa.Column("channels", sa.String(512), nullable=False, server_default=""),  # comma-separated
    sa.Column("escalate_to", sa.String(512), nullable=False, server_default=""),
    sa.Column("escalate_after_seconds", sa.Float),
    sa.Index("ix_alert_details_group", "group_key"),
)

alert_history = sa.Table(
    "alert_history",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(64)),
    sa.Column("actor", sa.String(128)),
    sa.Column("detail", sa.Text),
    # the occurrence that raised/repeated the alert: unique, so one problem counts once
    sa.Column("occurrence_key", sa.String(512), unique=True),
    sa.CheckConstraint(f"event IN {EVENTS}", name="ck_alert_history_event"),
    sa.Index("ix_alert_history_alert", "alert_id", "at"),
)


class AlertNotFound(LookupError):
    """No alert has this id."""


class AlertStateError(ValueError):
    """The alert cannot make this change (e.g. acknowledging a resolved alert)."""


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes: every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Alert:
    id: int
    created_at: dt.datetime
    severity: str
    source: str
    asset_key: str | None
    check_name: str | None
    message: str
    status: str
    dagster_run_id: str | None
    dedupe_key: str | None


@dataclass(frozen=True)
class AlertView:
    """An alert with its details (None for alerts without a rule) and acknowledgement."""

    alert: Alert
    updated_at: dt.datetime | None
    rule: str | None = None
    target: str | None = None
    occurrences: int = 1
    since: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    owner: str | None = None
    channels: tuple[str, ...] = ()
    escalate_to: tuple[str, ...] = ()
    escalate_after: dt.timedelta | None = None
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: dt.datetime | None = None

    @property
    def id(self) -> int:
        return self.alert.id

    @property
    def time_to_acknowledge(self) -> dt.timedelta | None:
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.alert.created_at


@dataclass(frozen=True)
class HistoryEvent:
    id: int
    alert_id: int
    at: dt.datetime
    event: str
    channel: str | None
    actor: str | None
    detail: str | None


@dataclass(frozen=True)
class Occurrence:
    """One observation of a problem by a rule, as a sensor saw it."""

    rule: str
    target: str
    severity: str
    source: str  # asset_check | run_failure | freshness | metric
    message: str
    since: dt.datetime
    key: str | None = None
    asset_key: str | None = None
    check_name: str | None = None
    run_id: str | None = None
    owner: str | None = None
    channels: Sequence[str] = ()
    escalate_to: Sequence[str] = ()
    escalate_after: dt.timedelta | None = None

    @property
    def group_key(self) -> str:
        return f"{self.rule}|{self.target}"


def _alert(row: sa.Row) -> Alert:
    m = row._mapping
    return Alert(
        id=m["id"],
        created_at=utc(m["created_at"]),
        severity=m["severity"],
        source=m["source"],
        asset_key=m["asset_key"],
        check_name=m["check_name"],
        message=m["message"],
        status=m["status"],
        dagster_run_id=m["dagster_run_id"],
        dedupe_key=m["dedupe_key"],
    )


def _more_severe(a: str, b: str) -> str:
    return max(a, b, key=SEVERITIES.index)


def _history_row(
    alert_id: int,
    event: str,
    at: dt.datetime,
    *,
    channel: str | None = None,
    actor: str | None = None,
    detail: str | None = None,
    occurrence_key: str | None = None,
) -> dict:
    return {
        "alert_id": alert_id,
        "event": event,
        "at": at,
        "channel": channel,
        "actor": actor,
        "detail": detail,
        "occurrence_key": occurrence_key,
    }


def _seen(conn: sa.Connection, key: str) -> bool:
    in_history = conn.execute(
        sa.select(alert_history.c.id).where(alert_history.c.occurrence_key == key)
    ).first()
    in_alerts = conn.execute(sa.select(alerts.c.id).where(alerts.c.dedupe_key == key)).first()
    return in_history is not None or in_alerts is not None


def record_occurrence(
    engine: sa.Engine, occ: Occurrence, now: dt.datetime | None = None
) -> tuple[int, str] | None:
    """Group ``occ`` into the unresolved alert of its rule and target, or raise a new one.

    Returns ``(alert id, "raised" | "repeated")``, or None when the occurrence key was already
    recorded (the same problem seen again by a re-reading sensor)."""
    if occ.severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {occ.severity!r}")
    now = now or now_utc()
    try:
        with engine.begin() as conn:
            if occ.key is not None and _seen(conn, occ.key):
                return None
            existing = conn.execute(
                sa.select(alerts.c.id, alerts.c.severity)
                .join(alert_details, alert_details.c.alert_id == alerts.c.id)
                .where(alert_details.c.group_key == occ.group_key, alerts.c.status != "resolved")
                .order_by(alerts.c.id.desc())
                .limit(1)
            ).first()
            if existing is not None:
                alert_id = existing.id
                conn.execute(
                    alert_details.update()
                    .where(alert_details.c.alert_id == alert_id)
                    .values(occurrences=alert_details.c.occurrences + 1, last_seen=now)
                )
                conn.execute(
                    alerts.update()
                    .where(alerts.c.id == alert_id)
                    .values(
                        severity=_more_severe(existing.severity, occ.severity),
                        message=occ.message[:4000],
                        updated_at=now,
                        # the link points at the newest failing run
                        **({"dagster_run_id": occ.run_id} if occ.run_id else {}),
                    )
                )
                conn.execute(
                    alert_history.insert().values(
                        _history_row(
                            alert_id,
                            "repeated",
                            now,
                            actor=SYSTEM_ACTOR,
                            detail=occ.message[:2000],
                            occurrence_key=occ.key,
                        )
                    )
                )
                outcome = "repeated"
            else:
                alert_id = conn.execute(
                    alerts.insert().values(
                        created_at=now,
                        severity=occ.severity,
                        source=occ.source,
                        asset_key=occ.asset_key,
                        check_name=occ.check_name,
                        message=occ.message[:4000],
                        status="open",
                        dagster_run_id=occ.run_id,
                        dedupe_key=occ.key,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]
                conn.execute(
                    alert_details.insert().values(
                        alert_id=alert_id,
                        rule=occ.rule,
                        target=occ.target[:512],
                        group_key=occ.group_key[:700],
                        occurrences=1,
                        since=min(occ.since, now),
                        last_seen=now,
                        owner=occ.owner,
                        channels=",".join(occ.channels),
                        escalate_to=",".join(occ.escalate_to),
                        escalate_after_seconds=occ.escalate_after.total_seconds()
                        if occ.escalate_after
                        else None,
                    )
                )
                conn.execute(
                    alert_history.insert().values(
                        _history_row(
                            alert_id,
                            "raised",
                            now,
                            actor=SYSTEM_ACTOR,
                            detail=occ.message[:2000],
                        )
                    )
                )
                outcome = "raised"
    except IntegrityError:
        if occ.key is None:
            raise
        return None  # a concurrent writer recorded the same occurrence key first
    if outcome == "raised":
        log.warning(
            "ALERT %s %s [%s] %s: %s (alert #%s)",
            occ.severity.upper(),
            occ.rule,
            occ.target,
            occ.source,
            occ.message,
            alert_id,
        )
    return int(alert_id), outcome


def raise_alert(
    engine: sa.Engine,
    *,
    severity: str,
    source: str,
    message: str,
    asset_key: str | None = None,
    check_name: str | None = None,
    dagster_run_id: str | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Store an open alert outside any rule (no grouping, no delivery); its id, or None if
    ``dedupe_key`` was already raised. Rule-driven code uses :func:`record_occurrence`."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")
    now = now_utc()
    try:
        with engine.begin() as conn:
            if dedupe_key is not None and _seen(conn, dedupe_key):
                return None
            alert_id = conn.execute(
                alerts.insert().values(
                    created_at=now,
                    severity=severity,
                    source=source,
                    asset_key=asset_key,
                    check_name=check_name,
                    message=message,
                    status="open",
                    dagster_run_id=dagster_run_id,
                    dedupe_key=dedupe_key,
                )
            ).inserted_primary_key[0]
            conn.execute(
                alert_history.insert().values(
                    _history_row(alert_id, "raised", now, actor=SYSTEM_ACTOR, detail=message[:2000])
                )
            )
    except IntegrityError:
        if dedupe_key is None:
            raise
        log.debug("alert %s already raised", dedupe_key)
        return None
    where = f" [{asset_key}{'/' + check_name if check_name else ''}]" if asset_key else ""
    log.warning("ALERT %s %s%s: %s (alert #%s)", severity.upper(), source, where, message, alert_id)
    return int(alert_id)


def record_event(
    engine: sa.Engine,
    alert_id: int,
    event: str,
    now: dt.datetime | None = None,
    *,
    channel: str | None = None,
    actor: str | None = SYSTEM_ACTOR,
    detail: str | None = None,
) -> None:
    """Append one history row (deliveries, escalations)."""
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, not {event!r}")
    with engine.begin() as conn:
        conn.execute(
            alert_history.insert().values(
                _history_row(
                    alert_id,
                    event,
                    now or now_utc(),
                    channel=channel,
                    actor=actor,
                    detail=detail[:2000] if detail else None,
                )
            )
        )


def _change_status(
    engine: sa.Engine,
    alert_id: int,
    status: str,
    actor: str,
    now: dt.datetime | None,
    note: str | None,
) -> AlertView:
    now = now or now_utc()
    with engine.begin() as conn:
        row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
        if row is None:
            raise AlertNotFound(f"no alert #{alert_id}: `pulse alerts list --status all` shows ids")
        current = row.status
        if current == "resolved":
            raise AlertStateError(f"alert #{alert_id} is already resolved")
        if current == status:
            raise AlertStateError(f"alert #{alert_id} is already {status}")
        conn.execute(
            alerts.update().where(alerts.c.id == alert_id).values(status=status, updated_at=now)
        )
        conn.execute(
            alert_history.insert().values(
                _history_row(alert_id, status, now, actor=actor, detail=note)
            )
        )
    return get_alert(engine, alert_id)


def acknowledge(
    engine: sa.Engine,
    alert_id: int,
    actor: str,
    now: dt.datetime | None = None,
    note: str | None = None,
) -> AlertView:
    """Acknowledge an open alert (stops its escalation; repeats still group into it)."""
    return _change_status(engine, alert_id, "acknowledged", actor, now, note)


def resolve(
    engine: sa.Engine,
    alert_id: int,
    actor: str,
    now: dt.datetime | None = None,
    note: str | None = None,
) -> AlertView:
    """Resolve an alert; the next occurrence of its rule and target opens a new one."""
    return _change_status(engine, alert_id, "resolved", actor, now, note)


def resolve_cleared(
    engine: sa.Engine,
    rule: str,
    cleared_targets: Sequence[str],
    now: dt.datetime | None = None,
    note: str = "condition cleared",
) -> list[int]:
    """Resolve the unresolved alerts of ``rule`` on targets whose condition no longer holds."""
    if not cleared_targets:
        return []
    with engine.connect() as conn:
        ids = [
            r.id
            for r in conn.execute(
                sa.select(alerts.c.id)
                .join(alert_details, alert_details.c.alert_id == alerts.c.id)
                .where(
                    alert_details.c.rule == rule,
                    alert_details.c.target.in_(list(cleared_targets)),
                    alerts.c.status != "resolved",
                )
            )
        ]
    for alert_id in ids:
        resolve(engine, alert_id, SYSTEM_ACTOR, now, note)
        log.info("alert #%s (%s) resolved: %s", alert_id, rule, note)
    return ids


def _views(engine: sa.Engine, where: list, limit: int | None) -> list[AlertView]:
    acks = (
        sa.select(
            alert_history.c.alert_id,
            sa.func.min(alert_history.c.at).label("acknowledged_at"),
        )
        .where(alert_history.c.event == "acknowledged")
        .group_by(alert_history.c.alert_id)
        .subquery()
    )
    resolutions = (
        sa.select(alert_history.c.alert_id, sa.func.max(alert_history.c.at).label("resolved_at"))
        .where(alert_history.c.event == "resolved")
        .group_by(alert_history.c.alert_id)
        .subquery()
    )
    query = (
        sa.select(alerts, alert_details, acks.c.acknowledged_at, resolutions.c.resolved_at)
        .outerjoin(alert_details, alert_details.c.alert_id == alerts.c.id)
        .outerjoin(acks, acks.c.alert_id == alerts.c.id)
        .outerjoin(resolutions, resolutions.c.alert_id == alerts.c.id)
        .where(*where)
        .order_by(alerts.c.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        ack_ids = [r._mapping["id"] for r in rows if r._mapping["acknowledged_at"] is not None]
        ackers = {
            r.alert_id: r.actor
            for r in conn.execute(
                sa.select(alert_history.c.alert_id, alert_history.c.actor)
                .where(
                    alert_history.c.event == "acknowledged",
                    alert_history.c.alert_id.in_(ack_ids),
                )
                .order_by(alert_history.c.id.desc())
            )
        }
    views = []
    for row in rows:
        m = row._mapping
        base = dict(
            alert=_alert(row),
            updated_at=utc(m["updated_at"]),
            acknowledged_at=utc(m["acknowledged_at"]),
            acknowledged_by=ackers.get(m["id"]),
            resolved_at=utc(m["resolved_at"]),
        )
        if m["rule"] is None:
            views.append(AlertView(**base))
            continue
        after = m["escalate_after_seconds"]
        views.append(
            AlertView(
                **base,
                rule=m["rule"],
                target=m["target"],
                occurrences=m["occurrences"],
                since=utc(m["since"]),
                last_seen=utc(m["last_seen"]),
                owner=m["owner"],
                channels=tuple(c for c in m["channels"].split(",") if c),
                escalate_to=tuple(c for c in m["escalate_to"].split(",") if c),
                escalate_after=dt.timedelta(seconds=after) if after is not None else None,
            )
        )
    return views


def get_alert(engine: sa.Engine, alert_id: int) -> AlertView:
    found = _views(engine, [alerts.c.id == alert_id], 1)
    if not found:
        raise AlertNotFound(f"no alert #{alert_id}: `pulse alerts list --status all` shows ids")
    return found[0]


def list_views(
    engine: sa.Engine, status: str | None = None, limit: int | None = 100
) -> list[AlertView]:
    """Alerts with details, newest first; ``status`` one of :data:`STATUSES` or None for all."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
    return _views(engine, [alerts.c.status == status] if status else [], limit)


def list_alerts(engine: sa.Engine, status: str | None = None, limit: int = 100) -> list[Alert]:
    return [v.alert for v in list_views(engine, status, limit)]


def set_alert_status(engine: sa.Engine, alert_id: int, status: str) -> bool:
    """Acknowledge or resolve an alert (history recorded); True if it exists."""
    if status not in STATUSES or status == "open":
        raise ValueError(f"status must be acknowledged or resolved, not {status!r}")
    try:
        _change_status(engine, alert_id, status, SYSTEM_ACTOR, None, None)
    except AlertNotFound:
        return False
    except AlertStateError:
        return True
    return True


def history(engine: sa.Engine, alert_id: int | None = None) -> list[HistoryEvent]:
    """History rows, oldest first (of one alert, or all)."""
    query = sa.select(alert_history).order_by(alert_history.c.at, alert_history.c.id)
    if alert_id is not None:
        query = query.where(alert_history.c.alert_id == alert_id)
    with engine.connect() as conn:
        return [
            HistoryEvent(
                id=r.id,
                alert_id=r.alert_id,
                at=utc(r.at),
                event=r.event,
                channel=r.channel,
                actor=r.actor,
                detail=r.detail,
            )
            for r in conn.execute(query)
        ]


def delivered_channels(engine: sa.Engine, alert_ids: Sequence[int]) -> dict[int, dict[str, set]]:
    """Per alert: channels already ``notified`` and already ``escalated`` to."""
    done: dict[int, dict[str, set]] = {
        i: {"notified": set(), "escalated": set()} for i in alert_ids
    }
    if not alert_ids:
        return done
    with engine.connect() as conn:
        for r in conn.execute(
            sa.select(
                alert_history.c.alert_id, alert_history.c.event, alert_history.c.channel
            ).where(
                alert_history.c.alert_id.in_(list(alert_ids)),
                alert_history.c.event.in_(["notified", "escalated"]),
            )
        ):
            done[r.alert_id][r.event].add(r.channel)
    return done
