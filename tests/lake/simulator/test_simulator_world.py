"""Behaviour of the fitness-app world simulator, checked against its own ground truth."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

from lake.simulator import (
    SimConfig,
    generate_world,
    load_ground_truth,
    load_world_messages,
    simulate_to_dir,
    write_world,
)

END = date(2025, 2, 10)  # the window includes the January peak
# Mostly new members (the experiment's population), big enough for a sharp A/B estimate.
BIG = SimConfig(
    users=2000, days=35, seed=11, end_date=END, existing_user_share=0.1, experiment_effect=0.08
)
SMALL = SimConfig(users=150, days=14, seed=3, end_date=END)

FAMILIES = {
    "account": {"Signed Up", "Consent Updated"},
    "engagement": {"App Opened", "Feature Used"},
    "workouts": {"Workout Started", "Workout Completed"},
    "marketplace": {"Program Viewed", "Program Purchased", "Program Refunded", "Trainer Followed"},
    "subscriptions": {
        "Subscription Started",
        "Subscription Renewed",
        "Subscription Cancelled",
        "Payment Failed",
    },
    "ai": {
        "Recommendation Shown",
        "Recommendation Accepted",
        "Recommendation Rejected",
        "Recommendation Modified",
        "Recommendation Rated",
        "Safety Flag Raised",
        "Model Deployed",
        "Model Rolled Back",
    },
    "experiments": {"Experiment Exposed"},
    "telemetry": {"API Request"},
}
SERVER = "analytics-python"


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def big():
    world = generate_world(BIG)
    rows = world.events.to_pylist()
    msgs = [orjson.loads(r["payload"]) for r in rows]
    return world, rows, msgs


@pytest.fixture(scope="module")
def clean(big):
    """Well-formed messages, each message id once."""
    world, _rows, msgs = big
    bad = set(world.ground_truth["malformed_message_ids"])
    seen: set[str] = set()
    out = []
    for m in msgs:
        mid = m.get("messageId")
        if mid is None or mid in bad or mid in seen:
            continue
        seen.add(mid)
        out.append(m)
    return out


def test_same_config_gives_byte_identical_events_parquet(tmp_path):
    a = write_world(generate_world(SMALL), tmp_path / "a")
    b = write_world(generate_world(SMALL), tmp_path / "b")
    c, _truth = simulate_to_dir(SMALL, tmp_path / "c")
    digest = [hashlib.sha256(p["events"].read_bytes()).hexdigest() for p in (a, b, c)]
    assert digest[0] == digest[1] == digest[2]
    other = write_world(
        generate_world(SimConfig(users=150, days=14, seed=4, end_date=END)), tmp_path / "d"
    )
    assert hashlib.sha256(other["events"].read_bytes()).hexdigest() != digest[0]


def test_written_files_have_the_contract_columns_and_no_pii(tmp_path):
    world = generate_world(SMALL)
    paths = write_world(world, tmp_path)
    assert set(paths) == {"events", "ground_truth", "users", "programs", "trainers", "plans"}
    events = pq.read_table(paths["events"])
    assert events.column_names == ["message_id", "day", "send_day", "payload"]
    assert str(events.schema.field("day").type) == "date32[day]"
    users = pq.read_table(paths["users"])
    assert users.num_rows == SMALL.users
    assert {"user_id", "signup_at", "acquisition_channel", "platform", "country", "plan"} <= set(
        users.column_names
    )
    assert not {"email", "name", "phone"} & set(users.column_names)
    assert set(pq.read_table(paths["programs"]).column_names) >= {
        "program_id", "trainer_id", "title", "category", "price", "level"
    }  # fmt: skip
    assert set(pq.read_table(paths["trainers"]).column_names) >= {
        "trainer_id", "name", "commission_rate", "specialty"
    }  # fmt: skip
    plans = pq.read_table(paths["plans"]).to_pylist()
    assert {p["plan_id"]: p["monthly_price"] for p in plans}["premium_monthly"] == 14.99
    truth = load_ground_truth(tmp_path)
    assert truth["user_count"] == SMALL.users
    assert truth["start_date"] == (END - timedelta(days=14)).isoformat()
    # the world stays inside its window
    days = events.column("day").to_pylist()
    assert min(days) >= END - timedelta(days=14) and max(days) < END


def test_load_world_messages_filters_days_and_keeps_send_order(tmp_path):
    write_world(generate_world(SMALL), tmp_path)
    everything = list(load_world_messages(tmp_path))
    assert len(everything) == pq.read_metadata(tmp_path / "events.parquet").num_rows
    day = END - timedelta(days=3)
    one_day = list(load_world_messages(tmp_path, start=day, end=day + timedelta(days=1)))
    assert 0 < len(one_day) < len(everything)
    stamps = [m["timestamp"][:10] for m in one_day if isinstance(m.get("timestamp"), str)]
    assert Counter(stamps).most_common(1)[0][0] == day.isoformat()
    sent = list(
        load_world_messages(tmp_path, start=day, end=day + timedelta(days=1), by="send_day")
    )
    assert len(sent) > 0


def test_every_event_family_is_present(big):
    counts = big[0].ground_truth["event_counts"]
    for family, names in FAMILIES.items():
        missing = names - set(counts)
        assert not missing, f"{family}: {missing}"
    types = Counter(m.get("type") for m in big[2])
    assert types["identify"] > 0 and types["screen"] > 0
    screens = {m["name"] for m in big[2] if m.get("type") == "screen"}
    assert {
        "Home",
        "Workout Player",
        "Program Detail",
        "Marketplace",
        "Profile",
        "Settings",
    } <= screens


def test_ground_truth_counts_match_the_stream(big, clean):
    truth = big[0].ground_truth
    counted = Counter(m["event"] for m in clean if m["type"] == "track")
    assert dict(counted) == truth["event_counts"]
    assert len(clean) == truth["message_counts"]["well_formed_unique"]
    assert len(big[1]) == truth["message_counts"]["rows"]


def test_dirt_rates_are_as_configured_and_recorded(big):
    world, rows, msgs = big
    truth = world.ground_truth
    n = len(rows)
    ids = Counter(r["message_id"] for r in rows if r["message_id"] is not None)
    dup_ids = {mid for mid, c in ids.items() if c > 1}
    assert dup_ids == set(truth["duplicate_message_ids"])
    assert 0.006 < len(dup_ids) / n < 0.014
    by_id = defaultdict(list)
    for r in rows:
        if r["message_id"] in dup_ids:
            by_id[r["message_id"]].append(r["payload"])
    assert all(len(set(p)) == 1 for p in by_id.values())  # exact resends

    late = set(truth["late_message_ids"])
    assert 0.003 < len(late) / n < 0.007
    for r in rows:
        if r["message_id"] in late:
            assert r["send_day"] > r["day"]
            assert orjson.loads(r["payload"])["timestamp"][:10] == r["day"].isoformat()

    malformed = truth["malformed"]
    assert 0.001 < len(malformed) / n < 0.003
    assert {m["kind"] for m in malformed} == {
        "missing_event", "missing_identity", "bad_timestamp", "bad_properties"
    }  # fmt: skip
    null_ids = sum(1 for r in rows if r["message_id"] is None)
    assert null_ids == truth["message_counts"]["malformed_without_message_id"] > 0
    kinds = {m["message_id"]: m["kind"] for m in malformed if m["message_id"]}
    for r in rows:
        kind = kinds.get(r["message_id"])
        if kind is None:
            continue
        msg = orjson.loads(r["payload"])
        if kind == "missing_event":
            assert msg["type"] == "track" and "event" not in msg
        elif kind == "missing_identity":
            assert "userId" not in msg and "anonymousId" not in msg
        elif kind == "bad_timestamp":
            with pytest.raises(ValueError):
                datetime.fromisoformat(msg["timestamp"].replace("Z", "+00:00"))
        else:
            assert not isinstance(msg["properties"], dict)

    pii = set(truth["pii_in_free_text_message_ids"])
    assert pii
    comments = [m for m in msgs if m.get("messageId") in pii]
    # each carries a contact (email/phone), a card, an SSN, an IP address or an IBAN, which the
    # collector's free-text scanner recognises
    from lake.privacy import MaskCounts, mask_text

    found = MaskCounts()
    assert all(mask_text(m["properties"]["comment"], found) != m["properties"]["comment"]
               for m in comments)  # fmt: skip
    kinds = truth["pii_in_free_text_kinds"]
    assert set(kinds) == {"contact", "card", "ssn", "ip", "iban"}
    assert found.cards and found.ssns and found.text_ips and found.ibans
    identify = next(m for m in msgs if m.get("type") == "identify")
    assert {"email", "name", "phone", "address", "plan", "acquisition_channel", "platform",
            "age_band", "fitness_goal"} <= set(identify["traits"])  # fmt: skip
    assert {"street", "city", "postalCode"} <= set(identify["traits"]["address"])


def test_churned_users_emit_nothing_after_their_churn_date(big, clean):
    churned = big[0].ground_truth["churned_users"]
    assert 0.1 < len(churned) / BIG.users < 0.6
    last_seen: dict[str, str] = {}
    for m in clean:
        uid = m.get("userId")
        if uid in churned:
            last_seen[uid] = max(last_seen.get(uid, ""), m["timestamp"][:10])
    assert last_seen
    assert all(last_seen[u] <= churned[u] for u in last_seen)


def test_sessions_are_bursts_separated_by_more_than_30_minutes(big, clean):
    gap = timedelta(minutes=30)
    per_anon: dict[str, list[datetime]] = defaultdict(list)
    for m in clean:
        if m["context"]["library"]["name"] != SERVER and m.get("anonymousId"):
            per_anon[m["anonymousId"]].append(_ts(m["timestamp"]))
    sessions = 0
    for stamps in per_anon.values():
        stamps.sort()
        sessions += 1 + sum(1 for a, b in itertools.pairwise(stamps) if b - a > gap)
    # every session the simulator made is recovered by the 30-minute rule (±1% for malformed)
    truth = big[0].ground_truth["session_count"]
    assert abs(sessions - truth) / truth < 0.01


def test_revenue_events_carry_revenue_and_commission(big, clean):
    revenue_events = {
        "Program Purchased",
        "Program Refunded",
        "Subscription Started",
        "Subscription Renewed",
    }
    seen = Counter()
    for m in clean:
        if m["type"] == "track" and m["event"] in revenue_events:
            p = m["properties"]
            assert p["revenue"] > 0 and p["currency"] == "USD"
            seen[m["event"]] += 1
            if m["event"] == "Program Purchased":
                assert p["trainer_payout"] == round(p["price"] * (1 - p["commission_rate"]), 2)
    assert set(seen) == revenue_events
    truth = big[0].ground_truth["revenue_usd"]  # what the lake receives: consent drops out
    dropped = set(big[0].ground_truth["consent"]["dropped_message_ids"])
    programs = sum(
        m["properties"]["revenue"]
        for m in clean
        if m.get("event") == "Program Purchased" and m["messageId"] not in dropped
    )
    assert programs == pytest.approx(truth["programs"], abs=0.01)


def test_model_versions_differ_in_acceptance(big):
    truth = big[0].ground_truth
    system = [m for m in big[2] if m.get("anonymousId") == "system:recommender"]
    assert {m["event"] for m in system} == {"Model Deployed", "Model Rolled Back"}
    assert all("userId" not in m for m in system)
    rates = {v: a["acceptance_rate"] for v, a in truth["model_acceptance"].items() if a["shown"]}
    worse = truth["worse_model_version"]
    assert len(rates) >= 2
    assert all(rates[worse] < r - 0.1 for v, r in rates.items() if v != worse)


def test_experiment_difference_in_data_is_close_to_true_effect(clean, big):
    truth = big[0].ground_truth["experiment"]
    exposure: dict[str, tuple[str, datetime]] = {}
    conversions: dict[str, datetime] = {}
    for m in clean:
        if m.get("event") == "Experiment Exposed":
            exposure[m["userId"]] = (m["properties"]["variant"], _ts(m["timestamp"]))
        elif m.get("event") in ("Program Purchased", "Subscription Started"):
            t = _ts(m["timestamp"])
            if m["userId"] not in conversions or t < conversions[m["userId"]]:
                conversions[m["userId"]] = t
    arms: dict[str, list[int]] = {"control": [], "treatment": []}
    for uid, (variant, t) in exposure.items():
        if t.date() <= (END - timedelta(days=15)):  # only exposures with a full 14-day window
            c = conversions.get(uid)
            arms[variant].append(int(c is not None and c - t <= timedelta(days=14)))
    rate = {v: sum(x) / len(x) for v, x in arms.items()}
    for v in arms:
        assert truth["arms_full_window"][v]["exposed"] == len(arms[v])
        assert truth["arms_full_window"][v]["converted"] == sum(arms[v])
    assert abs(len(arms["control"]) - len(arms["treatment"])) < 0.15 * len(exposure)
    effect = rate["treatment"] - rate["control"]
    se = sum(r * (1 - r) / len(arms[v]) for v, r in rate.items()) ** 0.5
    assert truth["true_effect"] == BIG.experiment_effect
    assert effect > 0
    assert abs(effect - truth["true_effect"]) < 3 * se, (rate, se)


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    order = scores.argsort(kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    # average ranks of ties
    for value in np.unique(scores):
        tie = scores == value
        ranks[tie] = ranks[tie].mean()
    pos = labels.sum()
    neg = len(labels) - pos
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def test_recent_activity_predicts_churn_better_than_chance(big, clean):
    churned = {u: date.fromisoformat(d) for u, d in big[0].ground_truth["churned_users"].items()}
    cutoff = END - timedelta(days=15)
    since = cutoff - timedelta(days=14)
    activity: Counter[str] = Counter()
    first_seen: dict[str, date] = {}
    for m in clean:
        uid = m.get("userId")
        if not uid or m["context"]["library"]["name"] == SERVER:
            continue
        day = date.fromisoformat(m["timestamp"][:10])
        first_seen[uid] = min(first_seen.get(uid, day), day)
        if since <= day < cutoff and m.get("event") == "App Opened":
            activity[uid] += 1
    population = [
        u
        for u, first in first_seen.items()
        if first <= cutoff - timedelta(days=7) and churned.get(u, END) >= cutoff
    ]
    labels = np.array([int(churned.get(u, END) < cutoff + timedelta(days=14)) for u in population])
    scores = -np.array([activity[u] for u in population], dtype=float)  # less activity → churn
    assert 20 < labels.sum() < len(labels)
    assert _auc(scores, labels) >= 0.7


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="users"):
        SimConfig(users=0)
    with pytest.raises(ValueError, match="duplicate_rate"):
        SimConfig(duplicate_rate=1.5)


def test_volume_drop_incident_is_recorded():
    drop_day = END - timedelta(days=5)
    world = generate_world(
        SimConfig(users=150, days=14, seed=3, end_date=END, volume_drop_date=drop_day)
    )
    per_day = Counter(world.events.column("day").to_pylist())
    others = [c for d, c in per_day.items() if d != drop_day]
    assert per_day[drop_day] < 0.6 * (sum(others) / len(others))
    incident = world.ground_truth["incidents"][0]
    assert incident["kind"] == "volume_drop" and incident["dropped_messages"] > 0


def test_consent_withdrawals_and_the_messages_the_collector_must_drop(big):
    """A few users withdraw analytics consent at the start of a day (some re-grant later): every
    message of theirs sent in between is listed as dropped, nothing else is."""
    world, _, msgs = big
    consent = world.ground_truth["consent"]
    changes = consent["changes"]
    withdrawals = [c for c in changes if not c["analytics"]]
    assert withdrawals and any(c["analytics"] for c in changes)  # some re-grant
    windows: dict[str, list] = {}
    for c in changes:
        at = datetime.fromisoformat(c["day"] + "T00:00:00+00:00")
        windows.setdefault(c["user_id"], []).append((at, c["analytics"]))
    anon = {m["userId"]: m["anonymousId"] for m in msgs if m.get("userId") and m.get("anonymousId")}
    by_key = {**windows, **{anon[u]: w for u, w in windows.items() if u in anon}}
    expected = set()
    malformed = set(world.ground_truth["malformed_message_ids"])
    for m in msgs:
        key = m.get("userId") or m.get("anonymousId")
        if key not in by_key or m.get("messageId") in malformed or "messageId" not in m:
            continue
        at = datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00"))
        state = True
        for when, granted in by_key[key]:
            if when <= at:
                state = granted
        if not state:
            expected.add(m["messageId"])
    dropped = set(consent["dropped_message_ids"])
    assert dropped == expected
    assert world.ground_truth["message_counts"]["consent_dropped"] == len(dropped)
    # the withdrawal itself is a Consent Updated with every category false; a re-grant an identify
    by_id = {m["messageId"]: m for m in msgs if "messageId" in m}
    for c in changes:
        m = by_id[c["message_id"]]
        if c["analytics"]:
            assert m["type"] == "identify" and all(m["traits"]["consent"].values())
        else:
            assert m["event"] == "Consent Updated" and not any(
                m["properties"][k] for k in ("analytics", "marketing", "personalization")
            )
