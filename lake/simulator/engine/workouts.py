"""Workouts: starting one, the player's progress reports, completing it (or not)."""

from __future__ import annotations

from lake.simulator.engine.clock import MIN_MS
from lake.simulator.engine.members import Member


class Workouts:
    """Workout behaviour (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    def _workout(self, u: Member, t: int, day_end: int, wo: tuple | None) -> int:
        rng = self.rng
        if wo is None:
            wo = rng.choice(self.catalog.workouts)
        workout_id, program_id, _trainer, minutes = wo
        self._api(u, t, "workout")
        ids = {"workout_id": workout_id, "program_id": program_id}
        self._track(u, t, "Workout Started", ids)
        duration = max(5.0, minutes * rng.uniform(0.8, 1.15))
        completes = rng.random() < 0.5 + 0.45 * u.e
        planned = duration if completes else duration * rng.uniform(0.1, 0.8)
        end = t + int(planned * MIN_MS)
        # The player reports progress every 17-27 minutes, so a workout is one session.
        tick = t + rng.randint(17 * MIN_MS, 27 * MIN_MS)
        while tick < end and tick < day_end:
            progress = round((tick - t) / (duration * MIN_MS), 2)
            self._screen(u, tick, "Workout Player", {**ids, "progress": progress})
            tick += rng.randint(17 * MIN_MS, 27 * MIN_MS)
        if end >= day_end:
            return day_end
        if completes:
            cal = round(duration * rng.uniform(5.5, 11.0))
            props = {**ids, "duration_minutes": round(duration, 1), "calories": cal}
            self._track(u, end, "Workout Completed", props)
            u.e = min(0.99, u.e + 0.003)
        return end
