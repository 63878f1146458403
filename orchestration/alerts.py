"""Alert state: the ``alerts`` table (on the shared app-metadata database) and :func:`raise_alert`.

Alerts are raised by Dagster sensors (failed asset checks, failed runs) and by ``pulse materialize``.
Each alert may carry a ``dedupe_key`` (e.g. ``check:<check key>:<evaluation id>``): raising the same
key twice stores one row, so a sensor that re-reads events after losing its cursor, or two paths
reporting one failure, never alert twice. Delivery to channels (email, Slack, webhook) reads this table.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from pulse.metadata import METADATA

log = logging.getLogger("pulse.alerts")

SEVERITIES = ("info", "warning", "error", "critical")
STATUSES = ("open", "acknowledged", "resolved")

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
    """Log and store an open alert; return its id, or None if ``dedupe_key`` was already raised."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")
    row = {
        "created_at": dt.datetime.now(dt.UTC),
        "severity": severity,
        "source": source,
        "asset_key": asset_key,
        "check_name": check_name,
        "message": message,
        "status": "open",
        "dagster_run_id": dagster_run_id,
        "dedupe_key": dedupe_key,
    }
    try:
        with engine.begin() as conn:
            alert_id = conn.execute(alerts.insert().values(**row)).inserted_primary_key[0]
    except IntegrityError:
        if dedupe_key is None:
            raise
        log.debug("alert %s already raised", dedupe_key)
        return None
    where = f" [{asset_key}{'/' + check_name if check_name else ''}]" if asset_key else ""
    log.warning("ALERT %s %s%s: %s (alert #%s)", severity.upper(), source, where, message, alert_id)
    return int(alert_id)


def list_alerts(engine: sa.Engine, status: str | None = None, limit: int = 100) -> list[Alert]:
    query = sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(alerts.c.status == status)
    with engine.connect() as conn:
        return [
            Alert(**{k: v for k, v in r._mapping.items() if k != "updated_at"})
            for r in conn.execute(query)
        ]


def set_alert_status(engine: sa.Engine, alert_id: int, status: str) -> bool:
    """Acknowledge or resolve an alert; True if it exists."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
    with engine.begin() as conn:
        result = conn.execute(
            alerts.update()
            .where(alerts.c.id == alert_id)
            .values(status=status, updated_at=dt.datetime.now(dt.UTC))
        )
    return result.rowcount > 0
