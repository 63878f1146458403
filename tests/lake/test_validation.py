from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import orjson
import pytest

from lake import validation as v
from lake.validation import Rejection, from_us, normalize, to_us

RECEIVED = datetime(2024, 3, 10, 12, 0, 0, tzinfo=UTC)
RECEIVED_US = to_us(RECEIVED)


def run(msg, **kw):
    kw.setdefault("received_at_us", RECEIVED_US)
    kw.setdefault("source_id", "src_1")
    return normalize(msg, **kw)


def track(**extra):
    return {"type": "track", "event": "Workout Started", "userId": "u1", **extra}


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        ("not a dict", v.NOT_AN_OBJECT),
        ({"type": "explode", "userId": "u"}, v.INVALID_TYPE),
        ({"event": "x", "userId": "u"}, v.INVALID_TYPE),
        ({"type": "track", "event": "x"}, v.MISSING_IDENTITY),
        ({"type": "track", "event": "x", "userId": "", "anonymousId": None}, v.MISSING_IDENTITY),
        ({"type": "track", "userId": "u"}, v.MISSING_EVENT),
        ({"type": "track", "event": "  ", "userId": "u"}, v.MISSING_EVENT),
        ({"type": "group", "userId": "u"}, v.MISSING_GROUP_ID),
        ({"type": "alias", "userId": "u"}, v.MISSING_PREVIOUS_ID),
        ({"type": "alias", "anonymousId": "a", "previousId": "p"}, v.MISSING_USER_ID),
        (track(timestamp="yesterday-ish"), v.INVALID_TIMESTAMP),
        (track(timestamp=1710000000), v.INVALID_TIMESTAMP),
        (track(sentAt="not a time"), v.INVALID_TIMESTAMP),
        (track(properties=[1, 2]), v.INVALID_FIELD),
        (track(properties="text"), v.INVALID_FIELD),
        ({"type": "identify", "userId": "u", "traits": "x"}, v.INVALID_FIELD),
        (track(context=5), v.INVALID_FIELD),
        (track(messageId="m" * 100), v.INVALID_MESSAGE_ID),
        (track(messageId={"a": 1}), v.INVALID_MESSAGE_ID),
    ],
)
def test_each_rejection_reason(msg, reason):
    out = run(msg)
    assert isinstance(out, Rejection), out
    assert out.reason == reason
    assert out.message


def test_valid_types_are_accepted():
    for msg in [
        track(),
        {"type": "identify", "anonymousId": "a", "traits": {"plan": "pro"}},
        {"type": "page", "userId": "u", "name": "Home"},
        {"type": "screen", "userId": "u", "name": "Workout"},
        {"type": "group", "userId": "u", "groupId": 42},
        {"type": "alias", "userId": "u", "previousId": "anon"},
    ]:
        out = run(msg)
        assert isinstance(out, dict), out


def test_skew_correction_arithmetic():
    # Client clock is 1 hour fast: sentAt and timestamp both ahead; the 30 s gap is preserved.
    out = run(track(timestamp="2024-03-10T13:00:00Z", sentAt="2024-03-10T13:00:30Z"))
    assert from_us(out["timestamp"]) == datetime(2024, 3, 10, 11, 59, 30, tzinfo=UTC)
    assert from_us(out["original_timestamp"]) == datetime(2024, 3, 10, 13, 0, tzinfo=UTC)
    assert from_us(out["sent_at"]) == datetime(2024, 3, 10, 13, 0, 30, tzinfo=UTC)
    assert out["received_at"] == RECEIVED_US
    assert out["event_date"] == (date(2024, 3, 10) - date(1970, 1, 1)).days


def test_timestamp_without_sent_at_and_without_anything():
    out = run(track(timestamp="2023-12-31T23:59:59.123456+00:00"))
    assert from_us(out["timestamp"]) == datetime(2023, 12, 31, 23, 59, 59, 123456, tzinfo=UTC)
    assert out["event_date"] == (date(2023, 12, 31) - date(1970, 1, 1)).days
    assert run(track())["timestamp"] == RECEIVED_US
    # offsets are converted to UTC; naive times are taken as UTC
    out = run(track(timestamp="2024-03-10T01:30:00+02:00"))
    assert from_us(out["timestamp"]) == datetime(2024, 3, 9, 23, 30, tzinfo=UTC)
    assert out["event_date"] == (date(2024, 3, 9) - date(1970, 1, 1)).days


def test_batch_sent_at_applies_when_message_has_none():
    out = run(track(timestamp="2024-03-10T12:00:00Z"), batch_sent_at="2024-03-10T12:00:10Z")
    assert from_us(out["timestamp"]) == datetime(2024, 3, 10, 11, 59, 50, tzinfo=UTC)


def test_message_id_kept_or_assigned():
    assert run(track(messageId="abc"))["message_id"] == "abc"
    assert run(track(messageId=123))["message_id"] == "123"
    assigned = run(track())["message_id"]
    assert uuid.UUID(assigned).version == 4
    assert run(track())["message_id"] != assigned


def test_numeric_ids_coerced_to_strings():
    out = run({"type": "track", "event": "x", "userId": 12345, "anonymousId": 7.5})
    assert out["user_id"] == "12345" and out["anonymous_id"] == "7.5"


def test_batch_context_and_integrations_merge_under_message():
    out = run(
        track(context={"locale": "fr-FR"}, integrations={"Amplitude": False}),
        batch_context={"locale": "en-US", "library": {"name": "sdk"}},
        batch_integrations={"All": True},
        client_ip="198.51.100.23",
    )
    ctx = orjson.loads(out["context"])
    assert ctx == {"locale": "fr-FR", "library": {"name": "sdk"}, "ip": "198.51.100.0"}
    assert orjson.loads(out["integrations"]) == {"All": True, "Amplitude": False}


def test_default_type_from_single_endpoint_and_json_columns():
    out = run(
        {"event": "App Opened", "anonymousId": "a", "properties": {"x": 1}}, default_type="track"
    )
    assert out["type"] == "track"
    assert out["properties"] == '{"x":1}'
    assert out["traits"] is None


def test_unknown_event_policy():
    out = run(track(event="Nope"), known_events=frozenset({"Workout Started"}))
    assert isinstance(out, Rejection) and out.reason == v.UNKNOWN_EVENT
    assert isinstance(run(track(), known_events=frozenset({"Workout Started"})), dict)


def test_quarantine_row_shape():
    rej = run(track(messageId="m1", properties=3))
    row = v.quarantine_row({"a": 1}, rej, received_at_us=RECEIVED_US, source_id="s")
    assert row["message_id"] == "m1" and row["reason"] == v.INVALID_FIELD
    assert orjson.loads(row["payload"])["message"] == {"a": 1}
    assert row["received_date"] == (date(2024, 3, 10) - date(1970, 1, 1)).days
