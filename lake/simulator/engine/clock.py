"""Simulated time: the clock's units and the seasonality of activity."""

from __future__ import annotations

import math
from datetime import date

DAY_MS = 86_400_000
MIN_MS = 60_000
SESSION_GAP_MS = 30 * MIN_MS
EPOCH = date(1970, 1, 1)


def season_multiplier(day: date) -> float:
    """Signup/activity seasonality: a January peak (New Year resolutions) and weekly rhythm."""
    doy = day.timetuple().tm_yday
    # distance in days to Jan 8 on the circular year
    dist = min(abs(doy - 8), 365 - abs(doy - 8))
    yearly = (
        1.0 + 0.8 * math.exp(-((dist / 18.0) ** 2)) + 0.15 * math.exp(-(((doy - 250) / 15.0) ** 2))
    )
    weekly = (1.15, 1.05, 1.0, 0.97, 0.9, 0.85, 1.05)[day.weekday()]
    return yearly * weekly
