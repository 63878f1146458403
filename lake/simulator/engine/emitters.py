"""The emitters: Segment messages as the mobile SDK, the backend and the recommender service send
them, with the deliberate dirt (malformed, duplicated, late and dropped messages) applied in
:meth:`Emitters._emit`; each day's messages become one Arrow table in send order."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from lake.simulator import catalog as C
from lake.simulator.engine.clock import DAY_MS, EPOCH
from lake.simulator.engine.members import Member

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.string()),  # null for malformed messages sent without one
        pa.field("day", pa.date32(), nullable=False),  # UTC date of the client timestamp
        pa.field("send_day", pa.date32(), nullable=False),  # UTC date the app sent it
        pa.field("payload", pa.string(), nullable=False),  # Segment message JSON, as sent
    ]
)

# Events that may be corrupted or lost (engagement and telemetry); revenue, identity and
# experiment events stay intact so the ground truth about them is recoverable.
_FRAGILE = frozenset(
    {
        "App Opened",
        "Screen Viewed",
        "Feature Used",
        "Workout Started",
        "Workout Completed",
        "API Request",
        "Program Viewed",
    }
)


_MALFORMED_KINDS = ("missing_event", "missing_identity", "bad_timestamp", "bad_properties")
_BAD_TIMESTAMPS = ("not-a-timestamp", "2024-13-45T25:61:00Z", "yesterday", "31/02/2025 10:00")


class Emitters:
    """Message plumbing (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    def _uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _iso(self, ms: int) -> str:
        rel = ms - self.start_ms
        d, rem = divmod(rel, DAY_MS)
        h, rem = divmod(rem, 3_600_000)
        m, rem = divmod(rem, 60_000)
        s, milli = divmod(rem, 1000)
        return f"{self._day_prefix[d + 400]}{h:02d}:{m:02d}:{s:02d}.{milli:03d}Z"

    def _context(self, u: Member, day: int, campaign: bool) -> orjson.Fragment:
        version = self._releases[0][0]
        for v, rel_day in self._releases:
            if day >= rel_day + u.version_lag:
                version = v
        key = (version, campaign)
        frag = u.ctx.get(key)
        if frag is None:
            pinfo = C.PLATFORMS[u.platform]
            ctx: dict[str, Any] = {
                "app": {"name": "Pulse Fit", "version": version, "namespace": "app.pulse.fit"},
                "device": {
                    "type": u.platform,
                    "manufacturer": pinfo["manufacturer"] if u.platform == "ios" else "Google",
                    "model": u.model,
                },
                "library": pinfo["library"],
                "os": {"name": pinfo["os"], "version": u.os_version},
                "ip": u.ip,
                "locale": u.locale,
            }
            if campaign and C.CHANNEL_CAMPAIGN[u.channel]:
                options = C.CHANNEL_CAMPAIGN[u.channel]
                source, medium = options[u.idx % len(options)]
                ctx["campaign"] = {"source": source, "medium": medium, "name": f"{u.channel}_q1"}
            frag = orjson.Fragment(orjson.dumps(ctx))
            u.ctx[key] = frag
        return frag

    def _emit(self, msg: dict[str, Any], ms: int, fragile: bool) -> bool:
        """Serialize one message and apply the deliberate dirt."""
        rng, cfg = self.rng, self.cfg
        day = (ms - self.start_ms) // DAY_MS
        if fragile and self._drop_day == day and rng.random() < cfg.volume_drop_fraction:
            self.dropped += 1
            return False
        mid = msg["messageId"]
        r = rng.random()
        if fragile and r < cfg.malformed_rate:
            kind = self._corrupt(msg)
            if rng.random() < 0.25:
                del msg["messageId"]
                mid = None
            entry = {"message_id": mid, "kind": kind, "day": self._date(day)}
            if self._consent_window and self._gated(
                msg.get("userId") or msg.get("anonymousId"), ms
            ):
                entry["consent_dropped"] = True  # the collector drops it instead of quarantining
            self.malformed.append(entry)
            self._buf.append((ms, self._next_seq(), mid, day, orjson.dumps(msg).decode()))
            return False
        self.type_counts[msg["type"]] += 1
        if msg["type"] == "track":
            self.event_counts[msg["event"]] += 1
        payload = orjson.dumps(msg).decode()
        key = msg.get("userId") or msg.get("anonymousId")
        gated_user = bool(self._consent_window) and key in self._consent_window
        if gated_user and self._gated(key, ms):
            self.consent_dropped_ids.append(mid)
        r -= cfg.malformed_rate if fragile else 0.0
        if 0 <= r < cfg.duplicate_rate:
            self.duplicate_ids.append(mid)
            self._buf.append((ms, self._next_seq(), mid, day, payload))
            resend = min(ms + rng.randint(500, 90_000), self.start_ms + (day + 1) * DAY_MS - 1)
            self._buf.append((resend, self._next_seq(), mid, day, payload))
            return True
        r -= cfg.duplicate_rate
        if 0 <= r < cfg.late_rate:
            send_day = day + rng.randint(1, 3)
            if send_day < self.n_days:
                send_ms = self.start_ms + send_day * DAY_MS + rng.randint(0, DAY_MS - 1)
                # Users who change consent send on time, so the truth of what the collector
                # drops is known when the message is made (the draws above are kept all the same).
                if not (gated_user or (key and key in self._consent_keys)):
                    self.late_ids.append(mid)
                    self._pending_late.setdefault(send_day, []).append(
                        (send_ms, self._next_seq(), mid, day, payload)
                    )
                    return True
        self._buf.append((ms, self._next_seq(), mid, day, payload))
        return True

    def _corrupt(self, msg: dict[str, Any]) -> str:
        kind = self.rng.choice(_MALFORMED_KINDS)
        if kind == "missing_event" and msg["type"] != "track":
            kind = "missing_identity"
        if kind == "missing_event":
            del msg["event"]
        elif kind == "missing_identity":
            msg.pop("userId", None)
            msg.pop("anonymousId", None)
        elif kind == "bad_timestamp":
            msg["timestamp"] = self.rng.choice(_BAD_TIMESTAMPS)
        else:
            props = msg.get("properties") or {}
            msg["properties"] = (
                ";".join(f"{k}={v}" for k, v in props.items())
                if self.rng.random() < 0.5
                else list(props.values())
            )
        return kind

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _date(self, day: int) -> str:
        return (self.start + timedelta(days=day)).isoformat()

    def _track(
        self, u: Member, ms: int, event: str, props: dict, *, identified: bool = True
    ) -> bool:
        """A client-side (mobile SDK) track call."""
        day = (ms - self.start_ms) // DAY_MS
        msg: dict[str, Any] = {
            "messageId": self._uuid(),
            "type": "track",
            "event": event,
            "anonymousId": u.anon_id,
            "timestamp": self._iso(ms),
            "context": self._context(u, day, not identified or day == u.signup_day),
            "properties": props,
            "integrations": {},
        }
        if identified:
            msg["userId"] = u.user_id
        if ms > u.last_ms:
            u.last_ms = ms
        ok = self._emit(msg, ms, event in _FRAGILE)
        if ok and "comment" in props and self._pii_pending:
            self.pii_ids.append(msg["messageId"])
        self._pii_pending = False
        return ok

    def _screen(self, u: Member, ms: int, name: str, props: dict | None = None) -> None:
        day = (ms - self.start_ms) // DAY_MS
        identified = day > u.signup_day or (day == u.signup_day and ms >= u.signup_ms)
        msg: dict[str, Any] = {
            "messageId": self._uuid(),
            "type": "screen",
            "name": name,
            "anonymousId": u.anon_id,
            "timestamp": self._iso(ms),
            "context": self._context(u, day, not identified or day == u.signup_day),
            "properties": props or {},
            "integrations": {},
        }
        if identified:
            msg["userId"] = u.user_id
        if ms > u.last_ms:
            u.last_ms = ms
        self._emit(msg, ms, True)

    def _identify(self, u: Member, ms: int) -> None:
        day = (ms - self.start_ms) // DAY_MS
        traits = dict(u.traits)
        traits["created_at"] = self._iso(u.signup_ms)
        msg = {
            "messageId": self._uuid(),
            "type": "identify",
            "userId": u.user_id,
            "anonymousId": u.anon_id,
            "timestamp": self._iso(ms),
            "context": self._context(u, day, day == u.signup_day),
            "traits": traits,
            "integrations": {},
        }
        u.last_ms = max(u.last_ms, ms)
        self._emit(msg, ms, False)

    def _server(self, u: Member, ms: int, event: str, props: dict) -> None:
        """A server-side (backend, analytics-python) track call: userId only."""
        msg = {
            "messageId": self._uuid(),
            "type": "track",
            "event": event,
            "userId": u.user_id,
            "timestamp": self._iso(ms),
            "context": self._server_ctx,
            "properties": props,
            "integrations": {},
        }
        self._emit(msg, ms, event in _FRAGILE)

    def _api(self, u: Member, ms: int, endpoint: str, ident: str = "") -> None:
        path, method, median, sigma, err = C.ENDPOINTS[endpoint]
        rng = self.rng
        latency = median * math.exp(rng.gauss(0.0, sigma))
        r = rng.random()
        if r < err:
            status = rng.choice((500, 502, 503, 504, 429))
            latency *= 2.5
        elif r < err + 0.01:
            status = 404 if method == "GET" else 400
        else:
            status = 200 if method == "GET" else 201
        props = {
            "endpoint": path.replace("{id}", ident) if ident else path,
            "route": path,
            "method": method,
            "status": status,
            "latency_ms": round(latency, 1),
        }
        self._server(u, max(ms - int(latency), self.start_ms), "API Request", props)

    def _system(self, ms: int, kind: str, version: str, prev: str) -> None:
        props = {"model_version": version, "previous_version": prev}
        if kind == "Model Rolled Back":
            props["reason"] = "acceptance_rate_drop"
        msg = {
            "messageId": self._uuid(),
            "type": "track",
            "event": kind,
            "anonymousId": C.SYSTEM_ANONYMOUS_ID,
            "timestamp": self._iso(ms),
            "context": self._system_ctx,
            "properties": props,
            "integrations": {},
        }
        self._emit(msg, ms, False)

    def _table(self, d: int, buf: list[tuple[int, int, str | None, int, str]]) -> pa.Table:
        if not buf:
            return EVENTS_SCHEMA.empty_table()
        send = np.fromiter((b[0] for b in buf), dtype=np.int64, count=len(buf))
        seq = np.fromiter((b[1] for b in buf), dtype=np.int64, count=len(buf))
        order = np.lexsort((seq, send))
        epoch_day = (self.start - EPOCH).days
        days = np.fromiter((buf[i][3] for i in order), dtype=np.int32, count=len(buf)) + epoch_day
        send_day = np.full(len(buf), epoch_day + d, dtype=np.int32)  # the day's stream
        return pa.table(
            {
                "message_id": pa.array([buf[i][2] for i in order], pa.string()),
                "day": pa.array(days).cast(pa.date32()),
                "send_day": pa.array(send_day).cast(pa.date32()),
                "payload": pa.array([buf[i][4] for i in order], pa.string()),
            },
            schema=EVENTS_SCHEMA,
        )
