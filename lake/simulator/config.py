"""Configuration of a simulated world: size, seed, time window and dirt rates."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class SimConfig:
    """Everything that determines a world. Same config (incl. ``end_date``) → same bytes.

    The world covers the UTC days ``[end_date - days, end_date)``; ``end_date`` defaults to
    today (UTC) and is exclusive.
    """

    users: int = 2000
    days: int = 60
    seed: int = 7
    end_date: date | None = None
    # Share of users who signed up before the window (they re-identify on their first session).
    existing_user_share: float = 0.4
    # Deliberate dirt, each a probability per message.
    duplicate_rate: float = 0.01
    late_rate: float = 0.005
    malformed_rate: float = 0.002
    # Share of free-text comments that carry an email address or a phone number.
    pii_comment_rate: float = 0.25
    # Share of users who withdraw analytics consent once (the collector must drop their events),
    # and the share of those who re-grant it later.
    consent_withdraw_rate: float = 0.03
    consent_regrant_share: float = 0.4
    # A/B test "onboarding_v2": absolute lift of P(first paid conversion within 14 days).
    experiment_effect: float = 0.06
    # Incident: on this day (inside the window) the app loses this share of its client events.
    volume_drop_date: date | None = None
    volume_drop_fraction: float = 0.7

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"SimConfig.users must be >= 1, got {self.users}")
        if self.days < 1:
            raise ValueError(f"SimConfig.days must be >= 1, got {self.days}")
        for name in (
            "existing_user_share",
            "duplicate_rate",
            "late_rate",
            "malformed_rate",
            "consent_withdraw_rate",
            "consent_regrant_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"SimConfig.{name} must be within [0, 1], got {value}")
        if self.duplicate_rate + self.late_rate + self.malformed_rate > 0.5:
            raise ValueError("SimConfig dirt rates add up to more than 0.5; use small rates")
        if not 0.0 <= self.experiment_effect <= 0.5:
            raise ValueError("SimConfig.experiment_effect must be within [0, 0.5]")

    @property
    def resolved_end_date(self) -> date:
        return self.end_date or datetime.now(UTC).date()

    @property
    def start_date(self) -> date:
        return self.resolved_end_date - timedelta(days=self.days)

    def resolved(self) -> SimConfig:
        """The same config with ``end_date`` pinned (so it can be replayed exactly)."""
        return dataclasses.replace(self, end_date=self.resolved_end_date)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self.resolved())
        for key, value in out.items():
            if isinstance(value, date):
                out[key] = value.isoformat()
        return out
