"""Sessions: when a member opens the app (diurnal rhythm, Poisson counts), anonymous visits before
signing up, and what one session does (the actions it picks among the domains)."""

from __future__ import annotations

import math

from lake.simulator.engine.clock import DAY_MS, MIN_MS, SESSION_GAP_MS
from lake.simulator.engine.members import Member

# Relative likelihood of a session starting in each local hour.
_DIURNAL = (
    0.2, 0.1, 0.05, 0.05, 0.1, 0.4, 1.2, 2.0, 1.6, 1.0, 0.8, 0.9,
    1.3, 1.1, 0.8, 0.8, 1.0, 1.6, 2.1, 2.0, 1.6, 1.1, 0.7, 0.4,
)  # fmt: skip


class Sessions:
    """Session behaviour (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    def _session_starts(self, u: Member, d: int, n: int) -> list[int]:
        rng = self.rng
        hours = rng.choices(range(24), weights=_DIURNAL, k=n)
        day_start = self.start_ms + d * DAY_MS
        return sorted(
            day_start + ((h - u.tz) % 24) * 3_600_000 + rng.randint(0, 3_599_999) for h in hours
        )

    def _poisson(self, lam: float) -> int:
        threshold, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= threshold:
                return k
            k += 1

    def _anonymous_visit(self, u: Member, d: int) -> None:
        (start,) = self._session_starts(u, d, 1)
        start = max(start, u.last_ms + SESSION_GAP_MS + MIN_MS)
        day_end = self.start_ms + (d + 1) * DAY_MS - MIN_MS
        if start >= day_end - 10 * MIN_MS:
            return
        self.sessions += 1
        t = start
        self._track(u, t, "App Opened", {"from_background": False}, identified=False)
        for name in ("Welcome", "Home", "Marketplace")[: self.rng.randint(1, 3)]:
            t += self.rng.randint(2_000, 90_000)
            self._screen(u, t, name)
        u.last_ms = t

    def _session(self, u: Member, d: int, t: int, day_end: int, first: bool) -> None:
        """One burst of client events, gaps < 30 min; ``u.last_ms`` follows the last one."""
        rng = self.rng
        signup_now = d == u.signup_day and first
        self._track(
            u,
            t,
            "App Opened",
            {"from_background": rng.random() < 0.4},
            identified=not signup_now,
        )
        if not signup_now:
            self._api(u, t + rng.randint(50, 400), "feed")
        t += rng.randint(1_000, 20_000)
        if signup_now:
            self._signup(u, d, t)
            t = u.signup_ms + rng.randint(5_000, 60_000)
        elif not u.identified:
            self._api(u, t, "login")
            self._identify(u, t)
            u.identified = True
        self._screen(u, t, "Home")
        if u.conv_day == d and not u.converted and first:
            t += rng.randint(5_000, 120_000)
            self._convert(u, t)
        n_actions = 1 + self._poisson(0.4 + 1.6 * u.e)
        for _ in range(n_actions):
            t += rng.randint(3_000, 240_000)
            if t >= day_end - 10 * MIN_MS:  # every action ends before midnight
                break
            r = rng.random()
            if r < 0.30:
                t = self._recommendation(u, t, day_end)
            elif r < 0.30 + 0.25 * (0.4 + u.e):
                t = self._workout(u, t, day_end, None)
            elif r < 0.70:
                t = self._marketplace(u, d, t)
            elif r < 0.85:
                self._feature(u, t)
            else:
                name = rng.choice(("Profile", "Settings", "Program Detail", "Home"))
                self._screen(u, t, name)
                if name == "Settings" and rng.random() < 0.05:
                    t += rng.randint(2_000, 30_000)
                    props = {
                        "analytics": True,
                        "marketing": rng.random() < 0.3,
                        "personalization": rng.random() < 0.8,
                        "source": "settings",
                    }
                    if self._gated(u.user_id, t):
                        props["analytics"] = False  # still withheld: no re-grant by the way
                    u.personalization = props["personalization"]
                    self._track(u, t, "Consent Updated", props)
