"""Subscriptions: starting one, renewals on the anniversary, failed payments and retries,
cancellations and churn (the revenue they add to the ground truth)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from lake.simulator import catalog as C
from lake.simulator.engine.clock import DAY_MS
from lake.simulator.engine.members import Member


class Subscriptions:
    """Subscription behaviour (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    def _churn(self, u: Member, d: int) -> None:
        u.churn_day = d
        if u.plan != "free":
            ms = self.start_ms + d * DAY_MS + self.rng.randint(0, DAY_MS - 1)
            self._server(
                u,
                ms,
                "Subscription Cancelled",
                {"plan": u.plan, "reason": self.rng.choice(C.CANCEL_REASONS)},
            )
            u.plan = "free"

    def _billing(self, u: Member, d: int, date_d: date) -> None:
        rng = self.rng
        run_ms = self.start_ms + d * DAY_MS + rng.randint(2 * 3_600_000, 4 * 3_600_000)
        if u.refunds and u.refunds[0][0] <= d:
            _due, props = u.refunds.pop(0)
            self._server(u, run_ms, "Program Refunded", props)
            if not self._gated(u.user_id, run_ms):  # truth = what the lake receives
                self.revenue["refunds"] += props["revenue"]
            run_ms += 1000
        if u.plan == "free" or u.anchor is None:
            return
        plan = C.PLANS[u.plan]
        price = plan["price"]
        if u.retry_day == d:
            u.retry_day = None
            if rng.random() < 0.6:
                self._renewed(u, run_ms, attempt=2)
            else:
                self._server(
                    u,
                    run_ms,
                    "Subscription Cancelled",
                    {"plan": u.plan, "reason": "payment_failed"},
                )
                u.plan = "free"
                u.stress += 0.05
            return
        if u.retry_day is not None:
            return
        a = u.anchor
        if plan["billing_period"] == "monthly":
            due = date_d.day == min(a.day, calendar.monthrange(date_d.year, date_d.month)[1])
        else:
            due = (date_d.month, date_d.day) == (a.month, a.day)
        if due and date_d > a:
            if rng.random() < 0.05:
                self._server(
                    u,
                    run_ms,
                    "Payment Failed",
                    {"plan": u.plan, "amount": price, "currency": "USD", "reason": "card_declined"},
                )
                u.retry_day = d + 3
                u.stress += 0.04
            else:
                self._renewed(u, run_ms, attempt=1)
        elif rng.random() < 0.0015 * (1.5 - u.e):
            reason = rng.choice(C.CANCEL_REASONS)
            self._server(u, run_ms, "Subscription Cancelled", {"plan": u.plan, "reason": reason})
            u.plan = "free"

    def _renewed(self, u: Member, ms: int, attempt: int) -> None:
        plan = C.PLANS[u.plan]
        props = {
            "plan": u.plan,
            "revenue": plan["price"],
            "currency": "USD",
            "billing_period": plan["billing_period"],
            "attempt": attempt,
        }
        self._server(u, ms, "Subscription Renewed", props)
        if not self._gated(u.user_id, ms):
            self.revenue["subscriptions"] += plan["price"]

    def _subscribe(self, u: Member, t: int, plan_id: str) -> None:
        plan = C.PLANS[plan_id]
        self._api(u, t, "subscription")
        props = {
            "plan": plan_id,
            "revenue": plan["price"],
            "currency": "USD",
            "billing_period": plan["billing_period"],
        }
        self._track(u, t, "Subscription Started", props)
        if not self._gated(u.user_id, t):
            self.revenue["subscriptions"] += plan["price"]
        u.plan = plan_id
        u.traits["plan"] = plan_id
        u.anchor = self.start + timedelta(days=(t - self.start_ms) // DAY_MS)
        u.converted = True
