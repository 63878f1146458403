"""Delivery and escalation of open alerts, one pass per sensor tick.

For every open (unacknowledged, unresolved) alert with a rule:

- each of its channels that has no ``notified`` row in the history gets the message once; repeats
  of the alert do not send again (they grow its occurrence count, shown in the next message);
- once it has been open longer than its ``escalate_after``, each ``escalate_to`` channel without
  an ``escalated`` row gets an escalation message;
- a failed delivery is recorded as ``delivery_failed`` (the error, secrets redacted) and tried
  again on the next pass, so nothing is lost while a mail server or webhook is down; one channel's
  failure never stops the others, and the pass itself never raises on a channel error.

``now`` is a parameter (tests move the clock; the sensor passes the wall clock).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from core.settings import Settings
from orchestration.alerting.channels import DeliveryError, deliver
from orchestration.alerting.messages import build_message
from orchestration.alerting.rules import BUILTIN_CHANNELS, ChannelConfig, RuleSet
from orchestration.alerting.store import (
    AlertView,
    delivered_channels,
    list_views,
    record_event,
)

log = logging.getLogger("pulse.alerts")


@dataclass
class DispatchReport:
    notified: list[tuple[int, str]] = field(default_factory=list)
    escalated: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # alert, channel, error

    def __bool__(self) -> bool:
        return bool(self.notified or self.escalated or self.failed)


def _config(rules: RuleSet, name: str) -> ChannelConfig | None:
    try:
        return rules.channel(name)
    except KeyError:
        return None


def _send(
    view: AlertView,
    channel: str,
    rules: RuleSet,
    settings: Settings,
    now: dt.datetime,
    escalation: bool,
    env: Mapping[str, str] | None,
) -> str | None:
    """Deliver; the error text on failure, None on success."""
    config = _config(rules, channel)
    if config is None:
        # The channel was removed from the rules file after the alert was raised.
        known = ", ".join(sorted({*BUILTIN_CHANNELS, *rules.channels}))
        return f"channel {channel!r} is not defined in {rules.path} (known: {known})"
    message = build_message(view, settings.dagster_base_url, now, escalation=escalation)
    try:
        deliver(config, message, settings, env)
    except DeliveryError as exc:
        return str(exc)
    except Exception as exc:  # a channel bug must not stop the other alerts or the sensor
        return f"unexpected {type(exc).__name__}: {exc}"
    return None


def dispatch(
    engine: sa.Engine,
    rules: RuleSet,
    settings: Settings,
    now: dt.datetime,
    env: Mapping[str, str] | None = None,
) -> DispatchReport:
    """One delivery/escalation pass over the open alerts (see the module docstring)."""
    report = DispatchReport()
    views = [v for v in list_views(engine, status="open", limit=None) if v.rule is not None]
    done = delivered_channels(engine, [v.id for v in views])
    for view in views:
        steps = [(c, False) for c in view.channels if c not in done[view.id]["notified"]]
        due = view.escalate_after is not None and now - view.alert.created_at >= view.escalate_after
        if due:
            steps += [(c, True) for c in view.escalate_to if c not in done[view.id]["escalated"]]
        for channel, escalation in steps:
            error = _send(view, channel, rules, settings, now, escalation, env)
            if error is None:
                event = "escalated" if escalation else "notified"
                record_event(engine, view.id, event, now, channel=channel)
                (report.escalated if escalation else report.notified).append((view.id, channel))
                continue
            kind = "escalation" if escalation else "notification"
            record_event(
                engine, view.id, "delivery_failed", now, channel=channel, detail=f"{kind}: {error}"
            )
            report.failed.append((view.id, channel, error))
            log.error(
                "alert #%s: %s to %s failed (retried next tick): %s", view.id, kind, channel, error
            )
    return report
