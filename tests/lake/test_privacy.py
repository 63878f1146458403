from __future__ import annotations

import orjson
import pytest

from lake.privacy import (
    MaskCounts,
    PolicyError,
    load_policy,
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


# ---- field policy ------------------------------------------------------------------------------


def test_default_policy_drops_street_and_postal_code_and_keeps_coarse_geography():
    msg = {
        "type": "identify",
        "userId": "u1",
        "traits": {
            "lastName": "Lee",
            "address": {
                "street": "12 Baker Street",
                "postalCode": "NW1 6XE",
                "city": "London",
                "country": "GB",
            },
            "zip": "94107",
        },
        "context": {"traits": {"address": "12 Baker Street, London"}},
    }
    masked, counts = mask_message(msg, KEY)
    assert masked["traits"]["lastName"] == pseudonymize("Lee", KEY)
    assert masked["traits"]["address"] == {"city": "London", "country": "GB"}
    assert "zip" not in masked["traits"]
    # an address sent flat as one string cannot be split: it is pseudonymized whole
    assert masked["context"]["traits"]["address"] == pseudonymize("12 Baker Street, London", KEY)
    assert counts.dropped == 3 and counts.pseudonymized == 2
    assert counts.by_field["traits.address.street"] == 1


def test_policy_file_pseudonymizes_drops_and_keeps_as_configured(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(
        "traits:\n  email: drop\n  nickname: pseudonymize\n  name: keep\n"
        "context:\n  ip: drop\n  deviceToken: pseudonymize\n"
    )
    policy = load_policy(path)
    msg = {
        "type": "identify",
        "traits": {"email": "a@b.example", "nickname": "annie", "name": "Ann Lee", "phone": "x"},
        "context": {"ip": "203.0.113.9", "deviceToken": "tok-123", "traits": {"email": "c@d.io"}},
    }
    masked, counts = mask_message(msg, KEY, policy=policy)
    assert masked["traits"] == {
        "nickname": pseudonymize("annie", KEY),
        "name": "Ann Lee",
        "phone": "x",  # not in this policy: only free-text scanned
    }
    assert masked["context"] == {"deviceToken": pseudonymize("tok-123", KEY), "traits": {}}
    assert counts.dropped == 3 and counts.pseudonymized == 2


def test_json_policy_file_is_accepted(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text('{"traits": {"email": "pseudonymize"}, "context": {"ip": "truncate"}}')
    policy = load_policy(path)
    assert policy.traits == {"email": "pseudonymize"}
    assert policy.context["ip"] == "truncate"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("traits:\n  email: hash\n", "traits.email: unknown action 'hash'"),
        ("traits:\n  address:\n    street: erase\n", "traits.address.street: unknown action"),
        ("fields:\n  email: drop\n", "unknown section(s) ['fields']"),
        ("- email\n", "expected a mapping"),
        ("traits: [email]\n", "traits: expected a mapping of field name to action"),
        ("context:\n  traits:\n    email: drop\n", "context.traits follows the 'traits' section"),
        ("traits: {email: drop\n", "not valid YAML"),
    ],
)
def test_bad_policy_fails_with_a_message_naming_the_problem(tmp_path, text, message):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_missing_policy_file_and_settings_validation(tmp_path, monkeypatch):
    from pulse.settings import SettingsError, get_settings

    with pytest.raises(PolicyError, match="cannot read it"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("traits:\n  email: hash\n")
    monkeypatch.setenv("PULSE_PII_POLICY_PATH", str(bad))
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match="PULSE_PII_POLICY_PATH.*unknown action 'hash'"):
            get_settings()
    finally:
        get_settings.cache_clear()
