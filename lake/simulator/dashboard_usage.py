"""A few weeks of the dashboards' own usage, for the demo's Adoption page.

A handful of accounts (an admin, analysts, viewers) each use the dashboards in a week with their
own probability; on an active day they view a few pages, change filters, now and then export or
save a dashboard. The messages are what :mod:`apps.streamlit.usage` sends (same names, properties,
``anonymousId`` and pseudonymous ``userId``), so they go through the same bulk loader as the history.
Seeded: the same arguments give the same messages.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lake.internal_source import DASHBOARDS_ANONYMOUS_ID


@dataclass(frozen=True)
class SimulatedAccount:
    username: str
    role: str
    weekly_use: float  # probability of using the dashboards in a given week


DEMO_ACCOUNTS: tuple[SimulatedAccount, ...] = (
    SimulatedAccount("demo-admin-ops", "admin", 0.95),
    SimulatedAccount("demo-analyst-growth", "analyst", 0.9),
    SimulatedAccount("demo-analyst-revenue", "analyst", 0.85),
    SimulatedAccount("demo-analyst-ml", "analyst", 0.7),
    SimulatedAccount("demo-viewer-ceo", "viewer", 0.8),
    SimulatedAccount("demo-viewer-cfo", "viewer", 0.6),
    SimulatedAccount("demo-viewer-marketing", "viewer", 0.5),
    SimulatedAccount("demo-viewer-support", "viewer", 0.3),
)
EXPORT_KINDS = ("csv", "xlsx", "png", "svg", "pdf")
FILTERS = ("range", "compare", "platform", "acquisition_channel", "plan", "country")


def _message(
    user_id: str, role: str, event: str, at: datetime, rng: random.Random, **properties: Any
) -> dict[str, Any]:
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sent = (at + timedelta(seconds=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "type": "track",
        "event": event,
        "userId": user_id,
        "anonymousId": DASHBOARDS_ANONYMOUS_ID,
        "timestamp": stamp,
        "sentAt": sent,
        "receivedAt": sent,
        "context": {
            "app": {"name": "pulse-dashboards"},
            "library": {"name": "analytics-python", "version": "2.4.0"},
        },
        "properties": {**properties, "role": role},
        "integrations": {},
    }


def simulate_dashboard_usage(
    first_day: date,
    last_day: date,
    pages: Sequence[str],
    user_id: Callable[[str], str],
    *,
    accounts: Sequence[SimulatedAccount] = DEMO_ACCOUNTS,
    weeks: int = 5,
    seed: int = 7,
) -> list[dict[str, Any]]:
    """Usage messages over the last ``weeks`` ISO weeks ending ``last_day`` (not before
    ``first_day``), for ``accounts``; ``user_id`` maps a username to its pseudonymous id."""
    rng = random.Random(seed)
    start = max(first_day, last_day - timedelta(days=7 * weeks - 1))
    messages: list[dict[str, Any]] = []
    week_start = start - timedelta(days=start.weekday())
    while week_start <= last_day:
        days = [
            week_start + timedelta(days=i)
            for i in range(7)
            if start <= week_start + timedelta(days=i) <= last_day
        ]
        for account in accounts:
            if not days or rng.random() >= account.weekly_use:
                continue
            uid = user_id(account.username)
            for day in sorted(rng.sample(days, k=min(len(days), rng.randint(1, 3)))):
                at = datetime(day.year, day.month, day.day, rng.randint(8, 17), tzinfo=UTC)
                at += timedelta(minutes=rng.randint(0, 59))
                for page in rng.sample(list(pages), k=min(len(pages), rng.randint(1, 4))):
                    messages.append(
                        _message(uid, account.role, "Dashboard Viewed", at, rng, page=page)
                    )
                    at += timedelta(seconds=rng.randint(20, 240))
                    if rng.random() < 0.4:
                        changed = [rng.choice(FILTERS)]
                        messages.append(
                            _message(
                                uid,
                                account.role,
                                "Filter Changed",
                                at,
                                rng,
                                page=page,
                                filters=changed,
                            )
                        )
                        at += timedelta(seconds=rng.randint(5, 60))
                    if rng.random() < 0.1:
                        kind = rng.choice(EXPORT_KINDS)
                        messages.append(
                            _message(
                                uid,
                                account.role,
                                "Export Downloaded",
                                at,
                                rng,
                                kind=kind,
                                page=page,
                            )
                        )
                if account.role != "viewer" and rng.random() < 0.15:
                    dashboard = f"dash-{rng.randint(1, 5)}"
                    messages.append(
                        _message(
                            uid, account.role, "Dashboard Saved", at, rng, dashboard_id=dashboard
                        )
                    )
        week_start += timedelta(days=7)
    return messages
