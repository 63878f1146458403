"""Consent at the collector: withdrawing analytics consent stops new data (counted, not stored),
re-granting resumes it, the state survives a restart and is shared across replicas by Redis."""

from __future__ import annotations

import uuid

import polars as pl
import pytest
from collector_harness import basic, metric, new_source, table, track
from starlette.testclient import TestClient

from core.settings import Settings
from lake.audit import read as read_audit
from lake.audit import subject_token
from lake.collector.app import create_app

pytestmark = pytest.mark.integration


def consent(mid: str, user: str, anon: str | None = None, **categories: bool) -> dict:
    """A ``Consent Updated`` track call (its schema requires all three categories)."""
    msg = {"type": "track", "event": "Consent Updated", "userId": user, "messageId": mid}
    if anon:
        msg["anonymousId"] = anon
    flags = {"analytics": True, "marketing": True, "personalization": True, **categories}
    return {**msg, "properties": flags}


def post(client, key: str, messages: list[dict]) -> dict:
    r = client.post("/v1/batch", json={"batch": messages}, headers=basic(key))
    assert r.status_code == 200, r.text
    return r.json()


def test_withdrawal_stops_new_data_survives_restart_and_regrant_resumes(tmp_path):
    """The real collector app (in-process: its lifespan opens the WAL and the flusher, and closing
    it flushes to Delta), stopped and started again on the same data dir."""
    data_dir = tmp_path / "data"
    key = new_source(data_dir, "consent-app")
    settings = Settings(data_dir=data_dir, collector_id="cs", flush_interval_seconds=0.2)
    with TestClient(create_app(settings)) as client:
        assert post(client, key, [track("c-1"), track("c-2", userId="u2")])["accepted"] == 2
        out = post(
            client,
            key,
            [
                consent("c-3", "u1", "anon-1", analytics=False, marketing=False),
                track("c-4"),  # u1: dropped
                track("c-5", userId=None, anonymousId="anon-1"),  # u1's device, logged out
                track("c-6", userId="u2"),  # someone else: kept
            ],
        )
        # the withdrawal itself is recorded in the ledger, not stored as an event
        assert out["accepted"] == 1 and out["consent_dropped"] == 3
        text = client.get("/metrics").text
        assert metric(text, "pulse_collector_events_consent_dropped_total") == 3
        assert metric(text, "pulse_collector_consent_changes_total") == 1

    with TestClient(create_app(settings)) as client:  # state rebuilt from the ledger
        assert post(client, key, [track("c-7")]).get("consent_dropped") == 1
        regrant = {
            "type": "identify",
            "userId": "u1",
            "messageId": "c-8",
            "traits": {"consent": {"analytics": True, "personalization": True}, "plan": "pro"},
        }
        out = post(client, key, [regrant, track("c-9")])
        assert out["accepted"] == 2 and "consent_dropped" not in out

    events = table(data_dir, "events")
    assert sorted(events["message_id"]) == ["c-1", "c-2", "c-6", "c-8", "c-9"]
    ledger = table(data_dir, "consent").sort("sequence")
    assert ledger.select(
        "message_id", "user_id", "anonymous_id", "analytics", "marketing", "personalization",
        "source",
    ).rows() == [
        ("c-3", "u1", "anon-1", False, False, True, "track"),
        ("c-8", "u1", None, True, None, True, "identify"),
    ]  # fmt: skip
    audit = read_audit(settings, action="consent_change").to_pylist()
    assert [a["subject"] for a in audit] == [subject_token(settings, "u1")] * 2
    assert all("u1" not in (a["details"] or "") for a in audit)


def test_replicas_share_consent_through_redis(tmp_path):
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.ConnectionError:
        pytest.fail("the Redis server at 127.0.0.1:6379 is part of this machine's services")
    prefix = f"pulse-test-{uuid.uuid4().hex}:"
    data_dir = tmp_path / "data"
    key = new_source(data_dir, "consent-redis")
    common = {"data_dir": data_dir, "redis_url": "redis://127.0.0.1:6379/0"}
    a = create_app(Settings(collector_id="ra", **common), consent_key_prefix=prefix)
    b = create_app(Settings(collector_id="rb", **common), consent_key_prefix=prefix)
    try:
        with TestClient(a) as ca, TestClient(b) as cb:
            assert post(cb, key, [track("r-1")])["accepted"] == 1
            assert post(ca, key, [consent("r-2", "u1", analytics=False)])["consent_dropped"] == 1
            assert post(cb, key, [track("r-3")])["consent_dropped"] == 1  # b learned it from Redis
            assert post(cb, key, [consent("r-4", "u1", analytics=True)])["accepted"] == 1
            assert post(ca, key, [track("r-5")])["accepted"] == 1
    finally:
        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        for k in client.scan_iter(match=prefix + "*"):
            client.delete(k)
    events = pl.read_delta(str(data_dir / "lake" / "bronze" / "events"))
    assert sorted(events["message_id"]) == ["r-1", "r-4", "r-5"]
