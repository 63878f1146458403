"""Consent: the members who withdraw analytics consent (and may re-grant it), and whether the
collector drops a message of theirs."""

from __future__ import annotations

from typing import Any

import orjson

from lake.simulator.engine.clock import DAY_MS
from lake.simulator.engine.members import Member


class Consent:
    """Consent behaviour (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    def _plan_withdrawals(self) -> None:
        """A few users withdraw analytics consent at the start of a day, some re-grant later.

        Never on the last day (it may be sent over HTTP by concurrent senders) and, for new users,
        only after their 14-day experiment window, so the experiment's truth is untouched."""
        rng, cfg, last = self.consent_rng, self.cfg, self.n_days - 2
        self._consent_keys: set[str] = set()
        for u in self.users:
            if rng.random() >= cfg.consent_withdraw_rate:
                continue
            first = max(1, u.signup_day + 15)
            if first > last:
                continue
            u.withdraw_day = rng.randint(first, last)
            self._consent_keys.update((u.user_id, u.anon_id))
            if u.withdraw_day < last and rng.random() < cfg.consent_regrant_share:
                u.regrant_day = rng.randint(u.withdraw_day + 1, last)

    def _gated(self, key: str | None, ms: int) -> bool:
        """Whether the collector drops a message of this identity processed at ``ms``."""
        window = self._consent_window.get(key) if key else None
        return window is not None and window[0] <= ms < window[1]

    def _consent_change(self, u: Member, d: int, granted: bool) -> None:
        """Withdraw (or re-grant) every category, first thing in the day: a Consent Updated
        track call to withdraw, an identify with ``traits.consent`` to re-grant. Sent on time
        and never corrupted (they bypass the dirt of :meth:`_emit`)."""
        ms = self.start_ms + d * DAY_MS
        mid = f"{self.consent_rng.getrandbits(128):032x}"
        flags = {"analytics": granted, "marketing": granted, "personalization": granted}
        msg: dict[str, Any] = {
            "messageId": mid,
            "userId": u.user_id,
            "anonymousId": u.anon_id,
            "timestamp": self._iso(ms),
            "context": self._context(u, d, False),
            "integrations": {},
        }
        if granted:
            msg.update(type="identify", traits={**u.traits, "consent": flags})
            for key in (u.user_id, u.anon_id):
                self._consent_window[key][1] = ms
        else:
            msg.update(
                type="track", event="Consent Updated", properties={**flags, "source": "settings"}
            )
            for key in (u.user_id, u.anon_id):
                self._consent_window[key] = [ms, 2**62]
        self.type_counts[msg["type"]] += 1
        if msg["type"] == "track":
            self.event_counts[msg["event"]] += 1
        payload = orjson.dumps(msg).decode()
        if not granted:
            self.consent_dropped_ids.append(mid)  # the withdrawal itself is not stored as an event
        self._buf.append((ms, self._next_seq(), mid, d, payload))
        u.personalization = granted
        self.consent_changes.append(
            {"user_id": u.user_id, "message_id": mid, "analytics": granted, "day": self._date(d)}
        )
