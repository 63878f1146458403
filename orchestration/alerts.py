"""Alert state, kept importable from its first home: the tables and functions now live in
``orchestration.alerting.store`` (grouping, acknowledgement, history; see ``docs/alerting.md``).
"""

from orchestration.alerting.store import (
    SEVERITIES,
    STATUSES,
    Alert,
    alerts,
    list_alerts,
    raise_alert,
    set_alert_status,
)

__all__ = [
    "SEVERITIES",
    "STATUSES",
    "Alert",
    "alerts",
    "list_alerts",
    "raise_alert",
    "set_alert_status",
]
