"""The collector's HTTP contract against a real process: paths, encodings, limits, schemas,
dedupe, errors with Retry-After, /ready, /metrics, OpenAPI, structured logs."""

from __future__ import annotations

import gzip
import shutil
import uuid

import httpx
import orjson
import polars as pl
import pytest
from collector_harness import (
    Collector,
    basic,
    metric,
    new_source,
    table,
    track,
    wait_for,
)

pytestmark = pytest.mark.integration

EMAIL = "jane.doe@example.com"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("api") / "data"
    key = new_source(data_dir, "app")
    strict = new_source(data_dir, "strict", unknown_event_policy="quarantine")
    c = Collector(data_dir, "api").start()
    yield c, key, strict
    c.stop()


def landed(c: Collector, ids: list[str], name: str = "events") -> pl.DataFrame | None:
    df = table(c.data_dir, name).filter(pl.col("message_id").is_in(ids))
    return df if df.height >= len(ids) else None


def test_every_path_text_plain_and_gzip(srv):
    c, key, _ = srv
    singles = {
        "track": {"event": "Feature Used", "properties": {"feature": "f"}},
        "identify": {"traits": {"plan": "pro"}},
        "page": {"name": "Home"},
        "screen": {"name": "Home"},
        "group": {"groupId": "g1"},
        "alias": {"previousId": "anon-1"},
    }
    ids = []
    with httpx.Client(base_url=c.url, headers=basic(key)) as http:
        for kind, extra in singles.items():
            for path in (f"/v1/{kind}", f"/v1/{kind[0]}"):
                mid = f"path-{path.replace('/', '_')}"
                body = orjson.dumps({"userId": "u1", "messageId": mid, **extra})
                r = http.post(path, content=body, headers={"Content-Type": "text/plain"})
                assert r.status_code == 200 and r.json()["accepted"] == 1, (path, r.text)
                ids.append(mid)
        for path in ("/v1/batch", "/v1/b", "/v1/import"):
            mid = f"gz-{path.replace('/', '_')}"
            body = gzip.compress(orjson.dumps({"batch": [track(mid)]}))
            r = http.post(path, content=body, headers={"Content-Encoding": "gzip"})
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
            ids.append(mid)
    rows = wait_for(lambda: landed(c, ids))
    assert set(rows["type"]) == set(singles)


def test_limits_answer_400_and_keep_the_rest_of_a_batch(srv):
    c, key, _ = srv
    h = basic(key)
    big = "x" * (33 * 1024)
    r = httpx.post(c.url + "/v1/track", json=track("lim-1", properties={"b": big}), headers=h)
    assert r.status_code == 400 and r.json()["code"] == "event_too_large"
    r = httpx.post(
        c.url + "/v1/batch",
        json={"batch": [track(f"lim-big-{i}", properties={"b": big}) for i in range(16)]},
        headers=h,
    )
    assert r.status_code == 400 and r.json()["code"] == "batch_too_large"
    r = httpx.post(c.url + "/v1/batch", json={"batch": [track("x")] * 2501}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "too_many_events"
    # one oversized event inside a batch: quarantined, the rest kept
    batch = [track("lim-ok-1"), track("lim-huge", properties={"b": big}), track("lim-ok-2")]
    r = httpx.post(c.url + "/v1/batch", json={"batch": batch}, headers=h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] == 2 and out["quarantined"] == 1
    assert out["errors"][0]["code"] == "event_too_large" and out["errors"][0]["index"] == 1
    wait_for(lambda: landed(c, ["lim-ok-1", "lim-ok-2"]))
    q = wait_for(lambda: landed(c, ["lim-huge"], "quarantine"))
    assert q["reason"].to_list() == ["event_too_large"]
    # gzip bomb: 20 MB of zeros in ~20 KB: refused at the decompression cap
    bomb = gzip.compress(b'{"batch":["' + b"0" * 20_000_000 + b'"]}')
    r = httpx.post(c.url + "/v1/batch", content=bomb, headers={**h, "Content-Encoding": "gzip"})
    assert r.status_code == 400 and r.json()["code"] == "batch_too_large"
    r = httpx.post(c.url + "/v1/batch", content=b"nope", headers={**h, "Content-Encoding": "gzip"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_gzip"
    r = httpx.post(c.url + "/v1/batch", content=b"{}", headers={**h, "Content-Encoding": "br"})
    assert r.status_code == 400 and r.json()["code"] == "unsupported_encoding"
    for body in (b"", b"[]", b"\xff\xfe", b'{"batch": 3}'):
        r = httpx.post(c.url + "/v1/batch", content=body, headers=h)
        assert r.status_code == 400 and set(r.json()) == {"code", "message"}, body


def test_schema_violations_and_unknown_event_policy(srv):
    c, key, strict = srv
    batch = [
        track(
            "sch-ok",
            event="Workout Completed",
            properties={"workout_id": "w", "duration_minutes": 5},
        ),
        track("sch-bad", event="Workout Completed", properties={"workout_id": "w"}),
        track("sch-unknown", event="Totally New Thing"),
    ]
    r = httpx.post(c.url + "/v1/batch", json={"batch": batch}, headers=basic(key))
    assert r.status_code == 200
    assert [e["code"] for e in r.json()["errors"]] == ["schema_violation"]
    strict_batch = [{**m, "messageId": "strict-" + m["messageId"]} for m in batch]
    r = httpx.post(c.url + "/v1/batch", json={"batch": strict_batch}, headers=basic(strict))
    assert [e["code"] for e in r.json()["errors"]] == ["schema_violation", "unknown_event"]
    wait_for(lambda: landed(c, ["sch-ok", "sch-unknown", "strict-sch-ok"]))
    q = wait_for(
        lambda: landed(c, ["sch-bad", "strict-sch-bad", "strict-sch-unknown"], "quarantine")
    )
    assert sorted(q["reason"]) == ["schema_violation", "schema_violation", "unknown_event"]


def test_repeated_message_ids_are_dropped_and_counted(srv):
    c, key, _ = srv
    ids = [f"dup-{i}" for i in range(50)]
    body = {"batch": [track(m) for m in ids]}
    first = httpx.post(c.url + "/v1/batch", json=body, headers=basic(key)).json()
    second = httpx.post(c.url + "/v1/batch", json=body, headers=basic(key)).json()
    assert first["accepted"] == 50 and "duplicates" not in first
    assert second["accepted"] == 0 and second["duplicates"] == 50
    rows = wait_for(lambda: landed(c, ids))
    assert rows.height == 50 and rows["message_id"].n_unique() == 50
    text = httpx.get(c.url + "/metrics").text
    assert metric(text, "pulse_collector_duplicates_dropped_total") >= 50


def test_auth_errors_and_client_ip_ignores_forwarded_for(srv):
    c, key, _ = srv
    r = httpx.post(c.url + "/v1/t", json=track("ip-0"))
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    r = httpx.post(
        c.url + "/v1/t",
        json={**track("ip-1"), "writeKey": key},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert r.status_code == 200
    row = wait_for(lambda: landed(c, ["ip-1"])).row(0, named=True)
    assert orjson.loads(row["context"])["ip"] == "127.0.0.0"  # the peer, truncated; XFF ignored


def test_metrics_expose_counters_that_move(srv):
    c, key, _ = srv
    before = httpx.get(c.url + "/metrics").text
    batch = [
        track(f"met-{uuid.uuid4().hex}", properties={"note": f"mail {EMAIL}"}),
        {"type": "track", "userId": "u", "messageId": f"met-{uuid.uuid4().hex}"},
    ]
    assert (
        httpx.post(c.url + "/v1/batch", json={"batch": batch}, headers=basic(key)).status_code
        == 200
    )
    assert httpx.post(c.url + "/v1/batch", json={"batch": []}).status_code == 401
    wait_for(
        lambda: (
            metric(httpx.get(c.url + "/metrics").text, "pulse_collector_wal_pending_events") == 0
        )
    )
    after = httpx.get(c.url + "/metrics").text
    for name, labels, delta in (
        ("pulse_collector_events_received_total", {}, 2),
        ("pulse_collector_events_accepted_total", {}, 1),
        ("pulse_collector_events_quarantined_total", {"reason": "missing_event"}, 1),
        ("pulse_collector_requests_rejected_total", {"code": "unauthorized"}, 1),
        ("pulse_collector_pii_masked_total", {"kind": "emails"}, 1),
        ("pulse_collector_request_duration_seconds_count", {"route": "/v1/batch"}, 2),
    ):
        assert metric(after, name, **labels) - metric(before, name, **labels) >= delta, name
    assert metric(after, "pulse_collector_delta_commit_duration_seconds_count", table="events") > 0
    assert metric(after, "pulse_collector_wal_bytes") > 0
    assert "pulse_collector_flush_lag_seconds" in after


def test_health_ready_openapi_and_no_noop_by_default(srv):
    c, _, _ = srv
    assert httpx.get(c.url + "/health").json()["status"] == "ok"
    r = httpx.get(c.url + "/ready")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    spec = httpx.get(c.url + "/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert {"/v1/batch", "/v1/b", "/v1/alias", "/v1/a", "/ready"} <= set(spec["paths"])
    assert "/v1/noop" not in spec["paths"]
    assert httpx.post(c.url + "/v1/noop", content=b"{}").status_code in (404, 405)


def test_logs_are_json_without_keys_or_pii(srv):
    c, key, _ = srv
    text = c.log_path.read_text()
    assert key not in text and EMAIL not in text
    lines = c.log_lines()
    assert any(line["msg"] == "collector_started" for line in lines)
    assert any(line["msg"] == "request_rejected" and line["code"] for line in lines)


def test_backpressure_answers_503_with_retry_after(tmp_path):
    data_dir = tmp_path / "data"
    key = new_source(data_dir, "bp")
    env = {
        "PULSE_MAX_WAL_PENDING_EVENTS": "20",
        "PULSE_FLUSH_INTERVAL_SECONDS": "3600",  # nothing flushes until shutdown
        "PULSE_FLUSH_MAX_EVENTS": "1000000",
    }
    c = Collector(data_dir, "bp", env_extra=env).start()
    try:
        body = {"batch": [track(f"bp-{i}") for i in range(25)]}
        assert httpx.post(c.url + "/v1/batch", json=body, headers=basic(key)).status_code == 200
        r = httpx.post(c.url + "/v1/batch", json={"batch": [track("bp-x")]}, headers=basic(key))
        assert r.status_code == 503 and r.json()["code"] == "overloaded"
        assert int(r.headers["Retry-After"]) >= 1
        assert httpx.get(c.url + "/ready").status_code == 503
    finally:
        c.stop()
    assert table(data_dir, "events").height == 25  # the graceful stop flushed


def test_flush_lag_bound_and_ready_flip_when_delta_is_unwritable(tmp_path):
    data_dir = tmp_path / "data"
    key = new_source(data_dir, "lag")
    c = Collector(data_dir, "lag", env_extra={"PULSE_MAX_FLUSH_LAG_SECONDS": "1.5"}).start()
    events = data_dir / "lake" / "bronze" / "events"
    moved = tmp_path / "events-moved"
    try:
        assert httpx.get(c.url + "/ready").status_code == 200
        shutil.move(events, moved)
        events.write_text("not a table")  # the flusher cannot write any more
        r = httpx.post(c.url + "/v1/batch", json={"batch": [track("lag-1")]}, headers=basic(key))
        assert r.status_code == 200  # durable in the WAL
        ready = wait_for(lambda: (r := httpx.get(c.url + "/ready")).status_code == 503 and r)
        assert any("flush" in p for p in ready.json()["problems"])
        r = wait_for(
            lambda: (
                (
                    r := httpx.post(c.url + "/v1/t", json=track("lag-2"), headers=basic(key))
                ).status_code
                == 503
                and r
            )
        )
        assert r.json()["code"] == "overloaded" and "Retry-After" in r.headers
        events.unlink()
        shutil.move(moved, events)
        wait_for(lambda: httpx.get(c.url + "/ready").status_code == 200, timeout=40)
    finally:
        c.stop()
    assert "lag-1" in table(data_dir, "events")["message_id"].to_list()


def test_in_process_rate_limit_answers_429_with_retry_after(tmp_path):
    data_dir = tmp_path / "data"
    key = new_source(data_dir, "rl")
    env = {"PULSE_RATE_LIMIT_EVENTS_PER_SECOND": "10", "PULSE_RATE_LIMIT_BURST_EVENTS": "2500"}
    c = Collector(data_dir, "rl", env_extra=env).start()
    try:
        body = {"batch": [track(f"rl-{i}") for i in range(2000)]}
        assert httpx.post(c.url + "/v1/batch", json=body, headers=basic(key)).status_code == 200
        r = httpx.post(c.url + "/v1/batch", json=body, headers=basic(key))
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert int(r.headers["Retry-After"]) >= 1
    finally:
        c.stop()
