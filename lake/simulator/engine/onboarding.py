"""Onboarding: signing up, the onboarding_v2 A/B test (assignment, exposure, the scheduled first
conversion) and converting."""

from __future__ import annotations

import hashlib

from lake.simulator import catalog as C
from lake.simulator.engine.members import Member


def experiment_variant(user_id: str) -> str:
    """50/50 assignment by hashing the user id (stable across runs and processes)."""
    digest = hashlib.sha256(f"{C.EXPERIMENT_NAME}:{user_id}".encode()).digest()
    return C.EXPERIMENT_VARIANTS[digest[0] & 1]


class Onboarding:
    """Signup and conversion (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    def _signup(self, u: Member, d: int, t: int) -> None:
        rng = self.rng
        self._screen(u, t, "Welcome")
        t += rng.randint(5_000, 60_000)
        self._screen(u, t, "Onboarding")
        t += rng.randint(20_000, 180_000)
        u.signup_ms = t
        method = rng.choice(("email", "apple", "google"))
        self._track(
            u,
            t,
            "Signed Up",
            {"method": method, "acquisition_channel": u.channel, "platform": u.platform},
        )
        self._identify(u, t + 200)
        consent = {
            "analytics": True,
            "marketing": rng.random() < 0.55,
            "personalization": rng.random() < 0.85,
            "source": "onboarding",
        }
        u.personalization = consent["personalization"]
        self._track(u, t + 1_500, "Consent Updated", consent)
        # A/B test: exposure at the first eligible session (the onboarding flow).
        u.variant = experiment_variant(u.user_id)
        u.exposure_day = d
        self._track(
            u,
            t + 3_000,
            "Experiment Exposed",
            {"experiment": C.EXPERIMENT_NAME, "variant": u.variant},
        )
        p = min(0.9, 0.06 + 0.32 * u.e)
        if u.variant == "treatment":
            p += self.cfg.experiment_effect
        if rng.random() < p:
            u.conv_day = d + 1 + min(12, int(rng.expovariate(1 / 3.0)))
            u.conv_kind = "subscription" if rng.random() < 0.6 else "purchase"
        u.signup_ms = t

    def _organic_ok(self, u: Member, d: int) -> bool:
        """Experiment users convert only as scheduled during their 14-day metric window."""
        return u.converted or u.exposure_day is None or d > u.exposure_day + 14

    def _convert(self, u: Member, t: int) -> None:
        u.converted = True
        if u.conv_kind == "subscription" and u.plan == "free":
            self._screen(u, t, "Paywall")
            plan = "premium_monthly" if self.rng.random() < 0.75 else "premium_annual"
            self._subscribe(u, t + self.rng.randint(5_000, 60_000), plan)
        else:
            program = self.rng.choice(self.catalog.programs)
            self._track(u, t, "Program Viewed", self._program_props(program))
            self._purchase(u, t + self.rng.randint(5_000, 90_000), program)
