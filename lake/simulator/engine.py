"""The simulation itself: a day-by-day walk over every member of a fitness marketplace app.

One ``random.Random`` stream, consumed in a fixed order (day, then user, then action), makes a world
a pure function of its :class:`SimConfig`. Each simulated day yields one Arrow table of messages in
send order, so a world of any size can be streamed to Parquet with bounded memory.
"""

from __future__ import annotations

import calendar
import hashlib
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from lake.simulator import catalog as C
from lake.simulator.config import SimConfig

DAY_MS = 86_400_000
MIN_MS = 60_000
SESSION_GAP_MS = 30 * MIN_MS
_EPOCH = date(1970, 1, 1)
_NOT_YET = 10**15  # signup_ms of a member who has not signed up yet

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
# What a comment with PII carries (twice as often a contact: email or phone, as before).
PII_COMMENT_KINDS = ("contact", "contact", "card", "ssn", "ip", "iban")


def _luhn_check_digit(digits: list[int]) -> int:
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


_MALFORMED_KINDS = ("missing_event", "missing_identity", "bad_timestamp", "bad_properties")
_BAD_TIMESTAMPS = ("not-a-timestamp", "2024-13-45T25:61:00Z", "yesterday", "31/02/2025 10:00")
# Relative likelihood of a session starting in each local hour.
_DIURNAL = (
    0.2, 0.1, 0.05, 0.05, 0.1, 0.4, 1.2, 2.0, 1.6, 1.0, 0.8, 0.9,
    1.3, 1.1, 0.8, 0.8, 1.0, 1.6, 2.1, 2.0, 1.6, 1.1, 0.7, 0.4,
)  # fmt: skip
# Model versions of the recommender: (acceptance multiplier, safety flag rate).
MODEL_QUALITY = {
    "recsys-v1.4": (0.46, 0.010),
    "recsys-v1.5": (0.29, 0.030),
    "recsys-v1.6": (0.52, 0.008),
}


def season_multiplier(day: date) -> float:
    """Signup/activity seasonality: a January peak (New Year resolutions) and weekly rhythm."""
    doy = day.timetuple().tm_yday
    # distance in days to Jan 8 on the circular year
    dist = min(abs(doy - 8), 365 - abs(doy - 8))
    yearly = (
        1.0 + 0.8 * math.exp(-((dist / 18.0) ** 2)) + 0.15 * math.exp(-(((doy - 250) / 15.0) ** 2))
    )
    weekly = (1.15, 1.05, 1.0, 0.97, 0.9, 0.85, 1.05)[day.weekday()]
    return yearly * weekly


def experiment_variant(user_id: str) -> str:
    """50/50 assignment by hashing the user id (stable across runs and processes)."""
    digest = hashlib.sha256(f"{C.EXPERIMENT_NAME}:{user_id}".encode()).digest()
    return C.EXPERIMENT_VARIANTS[digest[0] & 1]


@dataclass(slots=True, eq=False)
class _User:
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


@dataclass
class GroundTruth:
    """What really happened; written to ``ground_truth.json``."""

    data: dict[str, Any]


class Simulation:
    """Generates one world. Iterate :meth:`days` once; then read :attr:`truth` and the tables."""

    def __init__(self, config: SimConfig) -> None:
        self.cfg = config.resolved()
        self.rng = random.Random(self.cfg.seed)
        self.start = self.cfg.start_date
        self.start_ms = (self.start - _EPOCH).days * DAY_MS
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

    # ---- setup -----------------------------------------------------------------------------
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

    def _uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _make_users(self) -> list[_User]:
        rng, cfg = self.rng, self.cfg
        n_existing = round(cfg.users * cfg.existing_user_share)
        weights = [season_multiplier(self.start + timedelta(days=d)) for d in range(self.n_days)]
        weights = [w * (1.0 + 0.4 * d / self.n_days) for d, w in enumerate(weights)]  # growth
        new_days = sorted(
            rng.choices(range(self.n_days), weights=weights, k=cfg.users - n_existing)
        )
        c_weights = [c[1] for c in C.COUNTRIES]
        users: list[_User] = []
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
            u = _User(
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

    # ---- consent ---------------------------------------------------------------------------
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

    def _consent_change(self, u: _User, d: int, granted: bool) -> None:
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

    # ---- message plumbing ------------------------------------------------------------------
    def _iso(self, ms: int) -> str:
        rel = ms - self.start_ms
        d, rem = divmod(rel, DAY_MS)
        h, rem = divmod(rem, 3_600_000)
        m, rem = divmod(rem, 60_000)
        s, milli = divmod(rem, 1000)
        return f"{self._day_prefix[d + 400]}{h:02d}:{m:02d}:{s:02d}.{milli:03d}Z"

    def _context(self, u: _User, day: int, campaign: bool) -> orjson.Fragment:
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
        self, u: _User, ms: int, event: str, props: dict, *, identified: bool = True
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

    def _screen(self, u: _User, ms: int, name: str, props: dict | None = None) -> None:
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

    def _identify(self, u: _User, ms: int) -> None:
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

    def _server(self, u: _User, ms: int, event: str, props: dict) -> None:
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

    def _api(self, u: _User, ms: int, endpoint: str, ident: str = "") -> None:
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

    # ---- the day loop ----------------------------------------------------------------------
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

    def _table(self, d: int, buf: list[tuple[int, int, str | None, int, str]]) -> pa.Table:
        if not buf:
            return EVENTS_SCHEMA.empty_table()
        send = np.fromiter((b[0] for b in buf), dtype=np.int64, count=len(buf))
        seq = np.fromiter((b[1] for b in buf), dtype=np.int64, count=len(buf))
        order = np.lexsort((seq, send))
        epoch_day = (self.start - _EPOCH).days
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

    def _session_starts(self, u: _User, d: int, n: int) -> list[int]:
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

    def _anonymous_visit(self, u: _User, d: int) -> None:
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

    def _user_day(self, u: _User, d: int, season: float) -> None:
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

    def _churn(self, u: _User, d: int) -> None:
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

    def _billing(self, u: _User, d: int, date_d: date) -> None:
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

    def _renewed(self, u: _User, ms: int, attempt: int) -> None:
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

    # ---- one session ---------------------------------------------------------------------------
    def _session(self, u: _User, d: int, t: int, day_end: int, first: bool) -> None:
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

    def _signup(self, u: _User, d: int, t: int) -> None:
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

    def _organic_ok(self, u: _User, d: int) -> bool:
        """Experiment users convert only as scheduled during their 14-day metric window."""
        return u.converted or u.exposure_day is None or d > u.exposure_day + 14

    def _convert(self, u: _User, t: int) -> None:
        u.converted = True
        if u.conv_kind == "subscription" and u.plan == "free":
            self._screen(u, t, "Paywall")
            plan = "premium_monthly" if self.rng.random() < 0.75 else "premium_annual"
            self._subscribe(u, t + self.rng.randint(5_000, 60_000), plan)
        else:
            program = self.rng.choice(self.catalog.programs)
            self._track(u, t, "Program Viewed", self._program_props(program))
            self._purchase(u, t + self.rng.randint(5_000, 90_000), program)

    def _subscribe(self, u: _User, t: int, plan_id: str) -> None:
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

    @staticmethod
    def _program_props(program: dict) -> dict:
        return {
            "program_id": program["program_id"],
            "trainer_id": program["trainer_id"],
            "category": program["category"],
            "price": program["price"],
            "currency": "USD",
        }

    def _purchase(self, u: _User, t: int, program: dict) -> None:
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

    def _marketplace(self, u: _User, d: int, t: int) -> int:
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

    def _feature(self, u: _User, t: int) -> None:
        rng = self.rng
        feature = rng.choice(C.FEATURES)
        props: dict[str, Any] = {"feature": feature}
        pii = False
        if feature == "feedback":
            props["comment"], pii = self._comment(u)
        self._pii_pending = pii
        self._track(u, t, "Feature Used", props)

    def _comment(self, u: _User) -> tuple[str, bool]:
        rng = self.rng
        text = rng.choice(C.COMMENTS)
        if rng.random() < self.cfg.pii_comment_rate:
            contact = u.traits["email"] if rng.random() < 0.5 else u.traits["phone"]
            kind = self.pii_rng.choice(PII_COMMENT_KINDS)
            self.pii_kinds[kind] += 1
            if kind == "contact":
                return f"{text}. Contact me at {contact}", True
            return f"{text}. {self._pii_text(kind)}", True
        return text, False

    def _pii_text(self, kind: str) -> str:
        """A sentence with one valid identifier of ``kind`` (made by the PII generator)."""
        r = self.pii_rng
        if kind == "card":
            digits = [4] + [r.randint(0, 9) for _ in range(14)]
            digits.append(_luhn_check_digit(digits))
            number = "".join(map(str, digits))
            grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
            return f"I was charged twice on card {grouped}"
        if kind == "ssn":
            return (
                f"My SSN is {r.randint(1, 665):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"
            )
        if kind == "ip":
            return f"It failed from IP {r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        bban = f"{r.randint(10**7, 10**8 - 1)}{r.randint(10**9, 10**10 - 1)}"  # DE: 18 digits
        check = 98 - int(bban + "131400") % 97  # D=13 E=14, check digits 00 while computing
        return f"Please refund to DE{check:02d}{bban}"

    def _recommendation(self, u: _User, t: int, day_end: int) -> int:
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

    def _workout(self, u: _User, t: int, day_end: int, wo: tuple | None) -> int:
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

    # ---- results ---------------------------------------------------------------------------
    def ground_truth(self) -> dict[str, Any]:
        if not self._finished:
            raise RuntimeError("ground truth is known only after the simulation ran")
        exposed = [u for u in self.users if u.exposure_day is not None]
        last_full = self.n_days - 15  # exposure on or before this day has a full 14-day window
        arms: dict[str, Counter[str]] = {v: Counter() for v in C.EXPERIMENT_VARIANTS}
        for u in exposed:
            if u.exposure_day <= last_full:
                arms[u.variant]["exposed"] += 1
                arms[u.variant]["converted"] += u.conv_day is not None
        models = [
            {"model_version": "recsys-v1.4", "event": "deployed before window", "at": None}
        ] + [
            {"model_version": v, "event": kind, "previous_version": prev, "at": self._iso(ms)}
            for ms, kind, v, prev in self._models
        ]
        acceptance = {
            v: {
                "shown": c["shown"],
                "acceptance_rate": round(c["accepted"] / c["shown"], 4) if c["shown"] else None,
                "true_acceptance_multiplier": MODEL_QUALITY[v][0],
                "safety_flag_rate": MODEL_QUALITY[v][1],
            }
            for v, c in self.model_outcomes.items()
        }
        without_id = sum(1 for m in self.malformed if m["message_id"] is None)
        return {
            "config": self.cfg.to_json(),
            "start_date": self.start.isoformat(),
            "end_date": self.cfg.resolved_end_date.isoformat(),
            "generated_by": "lake.simulator",
            "user_count": len(self.users),
            "existing_user_count": sum(1 for u in self.users if u.signup_day < 0),
            "new_user_count": sum(1 for u in self.users if u.signup_day >= 0),
            "churned_users": {
                u.user_id: self._date(u.churn_day) for u in self.users if u.churn_day is not None
            },
            "churn_definition": "the user left on churn_date: a paying user's Subscription "
            "Cancelled may be sent that day, nothing is sent after it",
            "experiment": {
                "name": C.EXPERIMENT_NAME,
                "variants": list(C.EXPERIMENT_VARIANTS),
                "assignment": "sha256('onboarding_v2:' + user_id)[0] & 1 -> control/treatment",
                "true_effect": self.cfg.experiment_effect,
                "metric": "converted_within_14d",
                "metric_definition": "first Program Purchased or Subscription Started within 14 "
                "days (336 h) of Experiment Exposed; only exposures with a full 14-day window",
                "exposed_users": {
                    u.user_id: {"variant": u.variant, "exposed_on": self._date(u.exposure_day)}
                    for u in exposed
                },
                "arms_full_window": {
                    v: {
                        "exposed": c["exposed"],
                        "converted": c["converted"],
                        "rate": round(c["converted"] / c["exposed"], 4) if c["exposed"] else None,
                    }
                    for v, c in arms.items()
                },
            },
            "models": models,
            "model_acceptance": acceptance,
            "worse_model_version": "recsys-v1.5",
            "message_counts": {
                "rows": self.rows,
                "unique_message_ids": self.rows - len(self.duplicate_ids) - without_id,
                "well_formed_unique": sum(self.type_counts.values()),
                "duplicates": len(self.duplicate_ids),
                "late": len(self.late_ids),
                "malformed": len(self.malformed),
                "malformed_without_message_id": without_id,
                "dropped_by_incident": self.dropped,
                "consent_dropped": len(set(self.consent_dropped_ids)),
            },
            "consent": {
                "definition": "users who withdrew analytics consent (Consent Updated, all "
                "categories false, at the start of a day) and maybe re-granted it later (identify "
                "with traits.consent); the collector drops every message of theirs processed in "
                "between (send order): dropped_message_ids, and malformed ones marked "
                "consent_dropped. Revenue, model_acceptance and arms count only what is stored; "
                "model_acceptance only recommendations shown with personalization consent",
                "changes": self.consent_changes,
                "withdrawn_users": sorted({c["user_id"] for c in self.consent_changes}),
                "dropped_message_ids": list(dict.fromkeys(self.consent_dropped_ids)),
            },
            "duplicate_message_ids": self.duplicate_ids,
            "late_message_ids": self.late_ids,
            "malformed_message_ids": [m["message_id"] for m in self.malformed if m["message_id"]],
            "malformed": self.malformed,
            "pii_in_free_text_message_ids": self.pii_ids,
            "pii_in_free_text_kinds": dict(sorted(self.pii_kinds.items())),
            "event_counts": dict(sorted(self.event_counts.items())),
            "type_counts": dict(sorted(self.type_counts.items())),
            "session_count": self.sessions,
            "session_definition": "client (mobile SDK) messages of one anonymousId with gaps "
            "< 30 min; sessions are > 30 min apart; server-side messages are not in sessions",
            "revenue_usd": {k: round(v, 2) for k, v in sorted(self.revenue.items())},
            "incidents": (
                [
                    {
                        "kind": "volume_drop",
                        "date": self.cfg.volume_drop_date.isoformat(),
                        "fraction": self.cfg.volume_drop_fraction,
                        "dropped_messages": self.dropped,
                    }
                ]
                if self.cfg.volume_drop_date
                else []
            ),
        }

    def users_table(self) -> pa.Table:
        end_ms = self.start_ms + self.n_days * DAY_MS
        rows = [u for u in self.users if u.signup_ms < end_ms]
        return pa.table(
            {
                "user_id": [u.user_id for u in rows],
                "anonymous_id": [u.anon_id for u in rows],
                "signup_at": pa.array(
                    [datetime.fromtimestamp(u.signup_ms / 1000, UTC) for u in rows],
                    pa.timestamp("ms", tz="UTC"),
                ),
                "acquisition_channel": [u.channel for u in rows],
                "platform": [u.platform for u in rows],
                "country": [u.country for u in rows],
                "locale": [u.locale for u in rows],
                "age_band": [u.age_band for u in rows],
                "fitness_goal": [u.goal for u in rows],
                "plan": [u.plan for u in rows],
                "status": ["churned" if u.churn_day is not None else "active" for u in rows],
            }
        )

    def catalog_tables(self) -> dict[str, pa.Table]:
        plans = [
            {k: p[k] for k in ("plan_id", "name", "monthly_price", "billing_period")}
            for p in C.PLANS.values()
        ]
        return {
            "programs": pa.Table.from_pylist(self.catalog.programs),
            "trainers": pa.Table.from_pylist(self.catalog.trainers),
            "plans": pa.Table.from_pylist(plans),
        }
