"""The members of the app: who they are (a :class:`Member`) and how the population is drawn.

A member's record carries their latent engagement, plan, consent and experiment state; every
behaviour module reads and updates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import orjson

from lake.simulator import catalog as C
from lake.simulator.engine.clock import DAY_MS, season_multiplier

_NOT_YET = 10**15  # signup_ms of a member who has not signed up yet


@dataclass(slots=True, eq=False)
class Member:
    """One member and their state as the simulation goes (updated by every behaviour)."""

    idx: int
    user_id: str
    anon_id: str
    channel: str
    platform: str
    country: str
    locale: str
    tz: int
    ip: str
    model: str
    os_version: str
    age_band: str
    goal: str
    signup_day: int  # day index; negative for members who joined before the window
    signup_ms: int
    e: float  # latent engagement in (0, 1)
    drift: float
    traits: dict[str, Any]
    version_lag: int
    pre_signup_day: int | None = None
    plan: str = "free"
    anchor: date | None = None  # subscription anniversary
    retry_day: int | None = None
    stress: float = 0.0
    churn_day: int | None = None
    identified: bool = False
    variant: str | None = None
    exposure_day: int | None = None
    conv_day: int | None = None
    conv_kind: str = ""
    converted: bool = False
    last_ms: int = -(10**15)
    followed: set[str] = field(default_factory=set)
    refunds: list[tuple[int, dict]] = field(default_factory=list)
    ctx: dict[tuple[str, bool], orjson.Fragment] = field(default_factory=dict)
    personalization: bool = True  # consent as last set (no record: the default, granted)
    withdraw_day: int | None = None  # planned analytics withdrawal (and re-grant) days
    regrant_day: int | None = None


class Members:
    """Draws the population (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    def _make_users(self) -> list[Member]:
        rng, cfg = self.rng, self.cfg
        n_existing = round(cfg.users * cfg.existing_user_share)
        weights = [season_multiplier(self.start + timedelta(days=d)) for d in range(self.n_days)]
        weights = [w * (1.0 + 0.4 * d / self.n_days) for d, w in enumerate(weights)]  # growth
        new_days = sorted(
            rng.choices(range(self.n_days), weights=weights, k=cfg.users - n_existing)
        )
        c_weights = [c[1] for c in C.COUNTRIES]
        users: list[Member] = []
        for i in range(cfg.users):
            existing = i < n_existing
            channel = rng.choices(C.CHANNELS, weights=C.CHANNEL_WEIGHTS)[0]
            a, b = C.CHANNEL_ENGAGEMENT[channel]
            e = rng.betavariate(a, b)
            if existing:  # survivors of earlier churn are more engaged on average
                e = 0.15 + 0.8 * e
                signup_ms = (
                    self.start_ms - rng.randint(1, 400) * DAY_MS + rng.randint(0, DAY_MS - 1)
                )
                signup_day = (signup_ms - self.start_ms) // DAY_MS
            else:
                signup_day = new_days[i - n_existing]
                signup_ms = _NOT_YET  # set at the signup session
            country, _w, locale, tz = rng.choices(C.COUNTRIES, weights=c_weights)[0]
            platform = "ios" if rng.random() < 0.55 else "android"
            pinfo = C.PLATFORMS[platform]
            first, last = rng.choice(C.FIRST_NAMES), rng.choice(C.LAST_NAMES)
            user_id = f"usr_{rng.getrandbits(40):010x}"
            age_band = rng.choices(C.AGE_BANDS, weights=C.AGE_WEIGHTS)[0]
            goal = rng.choice(C.GOALS)
            email = f"{first}.{last}{rng.randint(1, 999)}@{rng.choice(C.EMAIL_DOMAINS)}".lower()
            phone = f"+1-{rng.randint(201, 989)}-555-{rng.randint(0, 9999):04d}"
            prng = self.pii_rng
            address = {
                "street": f"{prng.randint(1, 999)} {prng.choice(C.LAST_NAMES)} Street",
                "city": prng.choice(("Springfield", "Riverton", "Lakeside", "Hillview")),
                "postalCode": f"{prng.randint(10000, 99999)}",
                "country": country,
            }
            u = Member(
                idx=i,
                user_id=user_id,
                anon_id=self._uuid(),
                channel=channel,
                platform=platform,
                country=country,
                locale=locale,
                tz=tz,
                ip=f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                model=rng.choice(pinfo["models"]),
                os_version=rng.choice(pinfo["os_versions"]),
                age_band=age_band,
                goal=goal,
                signup_day=signup_day,
                signup_ms=signup_ms,
                e=e,
                drift=rng.gauss(-0.002, 0.006),
                traits={
                    "email": email,
                    "name": f"{first} {last}",
                    "phone": phone,
                    "address": address,
                    "plan": "free",
                    "acquisition_channel": channel,
                    "platform": platform,
                    "age_band": age_band,
                    "fitness_goal": goal,
                    "country": country,
                },
                version_lag=int(rng.expovariate(1 / 4.0)),
            )
            if existing:
                u.identified = False
                if rng.random() < 0.25 + 0.3 * e:
                    u.plan = "premium_monthly" if rng.random() < 0.75 else "premium_annual"
                    back = rng.randint(1, 30 if u.plan == "premium_monthly" else 365)
                    u.anchor = self.start - timedelta(days=back)
                u.traits["plan"] = u.plan
            else:
                u.identified = True
                if rng.random() < 0.35 and signup_day > 0:
                    u.pre_signup_day = max(0, signup_day - rng.randint(1, 3))
            users.append(u)
        return users
