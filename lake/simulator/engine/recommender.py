"""The AI recommender: its model versions over the window (deploys and a rollback), what it shows
a member and how they answer (accept, reject, modify, rate), and safety flags."""

from __future__ import annotations

from lake.simulator import catalog as C
from lake.simulator.engine.clock import DAY_MS
from lake.simulator.engine.members import Member

# Model versions of the recommender: (acceptance multiplier, safety flag rate).
MODEL_QUALITY = {
    "recsys-v1.4": (0.46, 0.010),
    "recsys-v1.5": (0.29, 0.030),
    "recsys-v1.6": (0.52, 0.008),
}


class Recommender:
    """Recommender behaviour (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    def _model_timeline(self) -> list[tuple[int, str, str, str]]:
        """[(ms, kind, version, previous)] of deploys and rollbacks inside the window."""
        n = self.n_days
        d1 = max(1, int(0.4 * n))
        d2 = max(d1 + 1, int(0.6 * n))
        d3 = max(d2 + 1, int(0.8 * n))
        steps = [
            (d1, "Model Deployed", "recsys-v1.5", "recsys-v1.4"),
            (d2, "Model Rolled Back", "recsys-v1.4", "recsys-v1.5"),
            (d3, "Model Deployed", "recsys-v1.6", "recsys-v1.4"),
        ]
        return [
            (self.start_ms + d * DAY_MS + 10 * 3_600_000, kind, v, prev)
            for d, kind, v, prev in steps
            if d < n
        ]

    def _model_at(self, ms: int) -> str:
        version = "recsys-v1.4"
        for when, _kind, v, _prev in self._models:
            if ms >= when:
                version = v
        return version

    def _recommendation(self, u: Member, t: int, day_end: int) -> int:
        rng = self.rng
        rid = f"rec_{rng.getrandbits(56):014x}"
        version = self._model_at(t)
        accept, flag_rate = MODEL_QUALITY[version]
        wo = rng.choice(self.catalog.workouts)
        self._api(u, t, "recommendations")
        base = {"recommendation_id": rid, "model_version": version, "workout_id": wo[0]}
        self._screen(u, t, "Home", {"section": "for_you"})
        self._track(u, t + 40, "Recommendation Shown", {**base, "position": rng.randint(1, 5)})
        if rng.random() < flag_rate * (1.5 if u.age_band in ("45-54", "55+") else 1.0):
            severity = rng.choices(("low", "medium", "high"), weights=(0.6, 0.3, 0.1))[0]
            flag = {**base, "flag_type": rng.choice(C.SAFETY_FLAGS), "severity": severity}
            self._track(u, t + 60, "Safety Flag Raised", flag)
        t += rng.randint(4_000, 90_000)
        p_accept = accept * (0.6 + 0.8 * u.e)
        r = rng.random()
        if r < p_accept:
            outcome = "Recommendation Accepted"
        elif r < p_accept + 0.30:
            outcome = "Recommendation Rejected"
            u.e = max(0.01, u.e - 0.012)
        elif r < p_accept + 0.40:
            outcome = "Recommendation Modified"
        else:
            outcome = None
        # Truth = what the AI marts may analyse: personalization consent when shown (and stored).
        counted = u.personalization and not self._gated(u.user_id, t)
        if counted:
            self.model_outcomes[version]["shown"] += 1
        if outcome is None:
            return t
        if counted:
            self.model_outcomes[version][outcome.split()[-1].lower()] += 1
        props = dict(base)
        if outcome == "Recommendation Modified":
            props["modification"] = rng.choice(("shorter", "easier", "swap_exercise", "harder"))
        self._track(u, t, outcome, props)
        if rng.random() < 0.2:
            t += rng.randint(2_000, 30_000)
            mean = {"Recommendation Accepted": 4.1, "Recommendation Modified": 3.4}.get(
                outcome, 2.2
            )
            rating = max(1, min(5, round(rng.gauss(mean, 0.9))))
            rated = {**base, "rating": rating}
            pii = False
            if rng.random() < 0.5:
                rated["comment"], pii = self._comment(u)
            self._pii_pending = pii
            self._track(u, t, "Recommendation Rated", rated)
        if outcome != "Recommendation Rejected":
            u.e = min(0.99, u.e + 0.004)
            t = self._workout(u, t + rng.randint(5_000, 60_000), day_end, wo)
        return t
