"""The marketplace: browsing programs, following trainers, purchases (with the trainer's payout)
and refunds."""

from __future__ import annotations

from lake.simulator.engine.clock import DAY_MS
from lake.simulator.engine.members import Member


class Marketplace:
    """Marketplace behaviour (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    @staticmethod
    def _program_props(program: dict) -> dict:
        return {
            "program_id": program["program_id"],
            "trainer_id": program["trainer_id"],
            "category": program["category"],
            "price": program["price"],
            "currency": "USD",
        }

    def _purchase(self, u: Member, t: int, program: dict) -> None:
        rng = self.rng
        price = program["price"]
        commission = self.trainers[program["trainer_id"]]["commission_rate"]
        self._api(u, t, "purchase")
        order_id = f"ord_{rng.getrandbits(48):012x}"
        props = {
            "order_id": order_id,
            "program_id": program["program_id"],
            "trainer_id": program["trainer_id"],
            "price": price,
            "revenue": price,
            "currency": "USD",
            "commission_rate": commission,
            "trainer_payout": round(price * (1.0 - commission), 2),
        }
        self._track(u, t, "Program Purchased", props)
        if not self._gated(u.user_id, t):
            self.revenue["programs"] += price
            self.revenue["trainer_payouts"] += props["trainer_payout"]
        u.converted = True
        if rng.random() < 0.06:
            d = (t - self.start_ms) // DAY_MS
            u.refunds.append(
                (
                    d + rng.randint(1, 7),
                    {
                        "order_id": order_id,
                        "program_id": program["program_id"],
                        "trainer_id": program["trainer_id"],
                        "revenue": price,
                        "currency": "USD",
                        "reason": rng.choice(("not_as_described", "too_difficult", "accidental")),
                    },
                )
            )

    def _marketplace(self, u: Member, d: int, t: int) -> int:
        rng = self.rng
        self._screen(u, t, "Marketplace")
        program = rng.choice(self.catalog.programs)
        t += rng.randint(3_000, 60_000)
        self._api(u, t, "program", program["program_id"])
        self._screen(u, t, "Program Detail", {"program_id": program["program_id"]})
        self._track(u, t + 50, "Program Viewed", self._program_props(program))
        if rng.random() < 0.07 and program["trainer_id"] not in u.followed:
            t += rng.randint(2_000, 30_000)
            u.followed.add(program["trainer_id"])
            self._track(u, t, "Trainer Followed", {"trainer_id": program["trainer_id"]})
        if self._organic_ok(u, d) and rng.random() < 0.015 + 0.04 * u.e:
            t += rng.randint(10_000, 120_000)
            self._purchase(u, t, program)
        elif u.plan == "free" and self._organic_ok(u, d) and rng.random() < 0.01 + 0.02 * u.e:
            t += rng.randint(10_000, 120_000)
            self._screen(u, t, "Paywall")
            self._subscribe(u, t + rng.randint(5_000, 60_000), "premium_monthly")
        return t
