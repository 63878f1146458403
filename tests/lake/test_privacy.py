from __future__ import annotations

import orjson
import pytest

from lake.privacy import (
    MaskCounts,
    luhn_valid,
    mask_message,
    mask_text,
    pseudonymize,
    truncate_ip,
)

KEY = b"test-key-123"


def test_hmac_is_deterministic_keyed_and_idempotent():
    a = pseudonymize("Ann@Example.com", KEY)
    assert a == pseudonymize(" ann@example.com ", KEY)
    assert a.startswith("hmac:") and len(a) == 5 + 32
    assert a != pseudonymize("ann@example.com", b"another-key")
    assert pseudonymize(a, KEY) == a


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("10.1.2.3", "10.1.2.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("not-an-ip", None),
        ("999.1.1.1", None),
    ],
)
def test_ip_truncation(ip, expected):
    assert truncate_ip(ip) == expected


def test_luhn():
    assert luhn_valid("4111111111111111")
    assert luhn_valid("5500005555555559")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to bob.smith+x@mail.example.org please", "write to [email] please"),
        ("call +1 415-555-0100 now", "call [phone] now"),
        ("call (415) 555-0100", "call [phone]"),
        ("call 415.555.0100", "call [phone]"),
        ("card 4111 1111 1111 1111 ok", "card [card] ok"),
        ("card 4111-1111-1111-1111", "card [card]"),
        ("card 4111111111111111", "card [card]"),
    ],
)
def test_free_text_masking(text, expected):
    counts = MaskCounts()
    assert mask_text(text, counts) == expected
    assert counts.total == 1


@pytest.mark.parametrize(
    "text",
    [
        "Workout Completed in 45 minutes",
        "2024-03-10T12:00:00.123Z",
        "550e8400-e29b-41d4-a716-446655440000",
        "order 4111111111111112",  # not Luhn-valid
        "version 17.2.1 build 20240310",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
        "order_1234567890",
    ],
)
def test_non_pii_untouched(text):
    assert mask_text(text) == text


def test_mask_message_fields_and_counts():
    msg = {
        "type": "identify",
        "userId": "ann@example.com",
        "anonymousId": "anon-1",
        "traits": {"email": "ann@example.com", "name": "Ann Lee", "plan": "pro", "age": 31},
        "context": {
            "ip": "203.0.113.77",
            "traits": {"phone": "+1 415 555 0100", "first_name": "Ann"},
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X)",
        },
        "properties": {
            "note": "reach me at ann@example.com",
            "items": [{"c": "4111 1111 1111 1111"}],
        },
    }
    original = orjson.dumps(msg)
    masked, counts = mask_message(msg, KEY)
    assert orjson.dumps(msg) == original  # input untouched
    assert masked["traits"]["email"] == pseudonymize("ann@example.com", KEY)
    assert masked["userId"] == masked["traits"]["email"]  # joinable pseudonym
    assert masked["traits"]["plan"] == "pro" and masked["traits"]["age"] == 31
    assert masked["context"]["ip"] == "203.0.113.0"
    assert masked["context"]["traits"]["phone"].startswith("hmac:")
    assert masked["context"]["userAgent"] == msg["context"]["userAgent"]
    assert masked["properties"]["note"] == "reach me at [email]"
    assert masked["properties"]["items"][0]["c"] == "[card]"
    assert masked["anonymousId"] == "anon-1"
    text = orjson.dumps(masked).decode()
    for secret in ("ann@example.com", "Ann Lee", "555 0100", "4111", "113.77"):
        assert secret not in text
    assert counts.pseudonymized == 5 and counts.emails == 1 and counts.cards == 1
    assert counts.ips == 1
