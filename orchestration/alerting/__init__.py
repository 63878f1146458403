"""Alerting: rules (what to watch), sources (how each kind of rule is evaluated), the alert store
(grouping, acknowledgement, history), messages, channels (email, Slack, webhook) and dispatch
(delivery, retries, escalation). The Dagster sensors in ``orchestration/sensors/alerts.py`` tie
them together; ``docs/alerting.md`` is the user guide.

Every module here but ``sources`` is free of Dagster imports, so ``pulse alerts ...`` starts fast.
"""
