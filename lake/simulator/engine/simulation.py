"""The world being simulated: a day-by-day walk over every member of a fitness marketplace app.

One ``random.Random`` stream, consumed in a fixed order (day, then user, then action), makes a world
a pure function of its :class:`SimConfig`. Each simulated day yields one Arrow table of messages in
send order, so a world of any size can be streamed to Parquet with bounded memory.

:class:`Simulation` holds the world's state (set up in ``__init__``) and the day loop; what members
do lives in one module per domain (sessions, onboarding, subscriptions, marketplace, recommender,
workouts, feedback, consent), the messages they send in :mod:`~lake.simulator.engine.emitters` and
the results in :mod:`~lake.simulator.engine.truth`: each a mixin of this class.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pyarrow as pa

from lake.simulator import catalog as C
from lake.simulator.config import SimConfig
from lake.simulator.engine.clock import DAY_MS, EPOCH, MIN_MS, SESSION_GAP_MS, season_multiplier
from lake.simulator.engine.consent import Consent
from lake.simulator.engine.emitters import Emitters
from lake.simulator.engine.feedback import Feedback
from lake.simulator.engine.marketplace import Marketplace
from lake.simulator.engine.members import Member, Members
from lake.simulator.engine.onboarding import Onboarding
from lake.simulator.engine.recommender import MODEL_QUALITY, Recommender
from lake.simulator.engine.sessions import Sessions
from lake.simulator.engine.subscriptions import Subscriptions
from lake.simulator.engine.truth import Truth
from lake.simulator.engine.workouts import Workouts


class Simulation(
    Sessions,
    Onboarding,
    Marketplace,
    Subscriptions,
    Recommender,
    Workouts,
    Feedback,
    Consent,
    Members,
    Emitters,
    Truth,
):
    """Generates one world. Iterate :meth:`days` once; then read :attr:`truth` and the tables."""

    def __init__(self, config: SimConfig) -> None:
        self.cfg = config.resolved()
        self.rng = random.Random(self.cfg.seed)
        self.start = self.cfg.start_date
        self.start_ms = (self.start - EPOCH).days * DAY_MS
        self.n_days = self.cfg.days
        self.catalog = C.build_catalog(self.rng, self.cfg.users)
        self.programs = {p["program_id"]: p for p in self.catalog.programs}
        self.trainers = {t["trainer_id"]: t for t in self.catalog.trainers}
        self._day_prefix = [
            (self.start + timedelta(days=d)).isoformat() + "T" for d in range(-400, self.n_days + 5)
        ]
        self._releases = [(v, int(share * self.n_days)) for v, share in C.APP_RELEASES]
        self._server_ctx = orjson.Fragment(orjson.dumps({"library": C.SERVER_LIBRARY}))
        self._system_ctx = orjson.Fragment(
            orjson.dumps({"library": C.SERVER_LIBRARY, "app": {"name": "recommender-service"}})
        )
        self._models = self._model_timeline()
        # PII and consent draw from their own generators, so the rest of the world stays the same.
        self.pii_rng = random.Random(self.cfg.seed * 7919 + 1)
        self.consent_rng = random.Random(self.cfg.seed * 7919 + 2)
        self.users = self._make_users()
        # identity key -> [withdrawn from ms, re-granted at ms): the collector drops in between
        self._consent_window: dict[str, list[int]] = {}
        self.consent_dropped_ids: list[str] = []
        self.consent_changes: list[dict[str, Any]] = []
        self._plan_withdrawals()
        # bookkeeping
        self._seq = 0
        self._pending_late: dict[int, list[tuple[int, int, str | None, int, str]]] = {}
        self.event_counts: Counter[str] = Counter()
        self.type_counts: Counter[str] = Counter()
        self.duplicate_ids: list[str] = []
        self.late_ids: list[str] = []
        self.malformed: list[dict[str, Any]] = []
        self.pii_ids: list[str] = []
        self.pii_kinds: Counter[str] = Counter()
        self.dropped = 0
        self._pii_pending = False
        self.rows = 0
        self.sessions = 0
        self.revenue = Counter()
        self.model_outcomes: dict[str, Counter[str]] = {v: Counter() for v in MODEL_QUALITY}
        self._finished = False

    def days(self) -> Iterator[tuple[int, pa.Table]]:
        """Simulate the window; yield ``(day_index, table)`` in send order, one table a day."""
        if self._finished:
            raise RuntimeError("a Simulation can be iterated once; create a new one")
        drop = self.cfg.volume_drop_date
        self._drop_day = (drop - self.start).days if drop else None
        for d in range(self.n_days):
            self._buf: list[tuple[int, int, str | None, int, str]] = []
            day_start = self.start_ms + d * DAY_MS
            for when, kind, version, prev in self._models:
                if day_start <= when < day_start + DAY_MS:
                    self._system(when, kind, version, prev)
            season = season_multiplier(self.start + timedelta(days=d))
            for u in self.users:
                if u.churn_day is not None:
                    continue
                if u.signup_day > d:
                    if u.pre_signup_day == d:
                        self._anonymous_visit(u, d)
                    continue
                self._user_day(u, d, season)
            self._buf.extend(self._pending_late.pop(d, ()))
            yield d, self._table(d, self._buf)
            self.rows += len(self._buf)
        self._finished = True

    def _user_day(self, u: Member, d: int, season: float) -> None:
        rng = self.rng
        if d == u.withdraw_day:
            self._consent_change(u, d, granted=False)
        elif d == u.regrant_day and u.user_id in self._consent_window:
            self._consent_change(u, d, granted=True)
        date_d = self.start + timedelta(days=d)
        if d > u.signup_day:
            u.e = min(0.99, max(0.01, u.e + u.drift + rng.gauss(0.0, 0.025) - 0.5 * u.stress))
            u.stress *= 0.7
            protected = u.conv_day is not None and not u.converted and u.conv_day >= d
            hazard = 0.0008 + 0.09 * (1.0 - u.e) ** 4
            if not protected and rng.random() < hazard:
                self._churn(u, d)
                return
            self._billing(u, d, date_d)
        if d == u.signup_day:
            lam_sessions = 0.3 + 1.2 * u.e
            n = 1 + self._poisson(lam_sessions)
        else:
            lam_sessions = (0.04 + 1.1 * u.e**1.5) * (0.75 + 0.25 * season)
            n = self._poisson(lam_sessions)
        if u.conv_day == d and not u.converted:
            n = max(n, 1)
        if n == 0:
            return
        starts = self._session_starts(u, d, n)
        if d == u.signup_day or (u.conv_day == d and not u.converted):
            starts[0] = min(starts[0], self.start_ms + d * DAY_MS + 20 * 3_600_000)
        day_end = self.start_ms + (d + 1) * DAY_MS - MIN_MS
        for i, start in enumerate(starts):
            start = max(start, u.last_ms + SESSION_GAP_MS + rng.randint(MIN_MS, 20 * MIN_MS))
            if start >= day_end - 15 * MIN_MS:
                break
            self.sessions += 1
            self._session(u, d, start, day_end, first=i == 0)
