from __future__ import annotations

import orjson
import pytest

from core.pii_policy import load_policy
from lake.privacy import (
    Keyring,
    MaskCounts,
    key_id,
    luhn_valid,
    mask_message,
    mask_text,
    pseudonymize,
    token_key_id,
    truncate_ip,
)

KEY = b"test-key-123"


def test_hmac_is_deterministic_keyed_and_idempotent():
    a = pseudonymize("Ann@Example.com", KEY)
    assert a == pseudonymize(" ann@example.com ", KEY)
    assert a.startswith(f"hmac:{key_id(KEY)}:") and len(a) == 5 + 8 + 1 + 32
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


# ---- key rotation ------------------------------------------------------------------------------


def test_tokens_name_their_key_and_a_keyring_finds_tokens_of_every_key():
    old, new = b"old-key-12345", b"new-key-67890"
    before = pseudonymize("ann@example.com", old)
    after = pseudonymize("ann@example.com", new)
    assert before != after
    assert token_key_id(before) == key_id(old) and token_key_id(after) == key_id(new)
    assert key_id(old) != key_id(new) and old.decode() not in key_id(old)
    ring = Keyring(new, (old,))
    assert ring.tokens_for("Ann@Example.com") == [after, before]
    assert ring.knows(before) and ring.knows(after)
    assert not Keyring(new).knows(before)
    assert token_key_id("hmac:not-a-token") is None and token_key_id("plain") is None
    # a token made under the old key is left as it is by masking under the new key (idempotent)
    masked, _ = mask_message({"type": "identify", "traits": {"email": before}}, new)
    assert masked["traits"]["email"] == before


def test_previous_keys_are_validated(monkeypatch):
    from core.settings import SettingsError, get_settings

    cases = [
        ('["short"]', "at least 8 characters"),
        ('["old-key-1234", "old-key-1234"]', "listed twice"),
        ('["the-current-key"]', "holds the current PULSE_PII_HMAC_KEY"),
    ]
    monkeypatch.setenv("PULSE_PII_HMAC_KEY", "the-current-key")
    try:
        for value, message in cases:
            monkeypatch.setenv("PULSE_PII_HMAC_PREVIOUS_KEYS", value)
            get_settings.cache_clear()
            with pytest.raises(SettingsError, match=f"PULSE_PII_HMAC_PREVIOUS_KEYS.*{message}"):
                get_settings()
    finally:
        get_settings.cache_clear()


def test_rotate_key_command_generates_then_records_an_audit_entry_without_the_key(
    tmp_path, monkeypatch
):
    from click.testing import CliRunner

    from core.settings import Settings, get_settings
    from lake.audit import read
    from pulse.cli import main

    runner = CliRunner()
    monkeypatch.setenv("PULSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PULSE_PII_HMAC_KEY", "first-key-123")
    get_settings.cache_clear()
    try:
        refused = runner.invoke(main, ["privacy", "rotate-key"])
        assert refused.exit_code == 1 and "no previous key is configured" in refused.output

        key_file = tmp_path / "new.key"
        made = runner.invoke(main, ["privacy", "rotate-key", "--generate-to", str(key_file)])
        assert made.exit_code == 0, made.output
        new_key = key_file.read_text().strip()
        assert len(new_key) >= 32 and (key_file.stat().st_mode & 0o777) == 0o600
        assert new_key not in made.output and key_id(new_key.encode()) in made.output
        again = runner.invoke(main, ["privacy", "rotate-key", "--generate-to", str(key_file)])
        assert again.exit_code == 1 and "exists" in again.output

        monkeypatch.setenv("PULSE_PII_HMAC_KEY", new_key)
        monkeypatch.setenv("PULSE_PII_HMAC_PREVIOUS_KEYS", '["first-key-123"]')
        get_settings.cache_clear()
        done = runner.invoke(main, ["privacy", "rotate-key"])
        assert done.exit_code == 0, done.output
        assert runner.invoke(main, ["privacy", "rotate-key"]).output.startswith(
            f"the rotation to key {key_id(new_key.encode())} is already recorded"
        )
        entries = read(Settings(data_dir=tmp_path / "data")).to_pylist()
        assert [e["action"] for e in entries] == ["key_rotation"]
        details = orjson.loads(entries[0]["details"])
        assert details == {
            "key_id": key_id(new_key.encode()),
            "previous_key_ids": [key_id(b"first-key-123")],
        }
        assert new_key not in str(entries) and "first-key-123" not in str(entries)
    finally:
        get_settings.cache_clear()


# ---- detectors: IP addresses and national ids ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("login from 203.0.113.77 today", "login from [ip] today", "text_ips"),
        ("my ip is 10.0.0.1.", "my ip is [ip].", "text_ips"),
        ("from 2001:db8:85a3::8a2e:370:7334 ok", "from [ip] ok", "text_ips"),
        ("fe80:0:0:0:202:b3ff:fe1e:8329 seen", "[ip] seen", "text_ips"),
        ("ssn 123-45-6789 on file", "ssn [ssn] on file", "ssns"),
        ("ssn 123 45 6789", "ssn [ssn]", "ssns"),
        ("iban DE89 3704 0044 0532 0130 00 thanks", "iban [iban] thanks", "ibans"),
        ("iban GB82WEST12345698765432", "iban [iban]", "ibans"),
        ("NI number AB 12 34 56 C please", "NI number [nino] please", "ninos"),
        ("NI AB123456D", "NI [nino]", "ninos"),
    ],
)
def test_ip_and_national_id_detection(text, expected, kind):
    counts = MaskCounts()
    assert mask_text(text, counts) == expected
    assert getattr(counts, kind) == 1 and counts.total == 1


@pytest.mark.parametrize(
    "text",
    [
        "app version 1.2.3 build 7",  # three parts: a version, not an IP
        "release 10.4.3.2.1 shipped",  # five parts
        "score 300.1.1.1 ok",  # octet over 255
        "meet at 12:30:45 sharp",  # a time
        "mac 00:1A:2B:3C:4D:5E here",  # a MAC address
        "ssn 000-12-3456",  # area 000
        "ssn 666-12-3456",  # area 666
        "ssn 912-34-5678",  # area 9xx
        "ssn 123-00-4567",  # group 00
        "ssn 123-45-0000",  # serial 0000
        "ssn 078-05-1120",  # voided by the SSA
        "mixed 123-45 6789",  # mixed separators
        "iban DE89370400440532013003",  # bad check digits
        "code XX12 3456",  # too short for an IBAN
        "NI GB 12 34 56 A",  # GB prefix is never issued
        "NI QQ 12 34 56 C",  # Q is never a prefix letter (HMRC's specimen number)
        "NI QQ 12 34 56 E",  # suffix beyond D
        "ratio 3:2:1 held",
    ],
)
def test_id_and_ip_near_misses_are_left_alone(text):
    assert mask_text(text) == text


def test_a_card_run_on_from_another_number_is_still_found():
    counts = MaskCounts()
    masked = mask_text("+1 415 4111 1111 1111 1111 thanks", counts)
    assert "4111" not in masked and counts.cards == 1


def test_validators():
    from lake.privacy import iban_valid, nino_valid, ssn_valid

    assert iban_valid("DE89370400440532013000") and iban_valid("FR14 2004 1010 0505 0001 3M02 606")
    assert not iban_valid("DE88370400440532013000")
    assert ssn_valid("123", "45", "6789") and not ssn_valid("900", "45", "6789")
    assert nino_valid("QQ123456C") and not nino_valid("TN123456A")


def test_every_masking_kind_is_counted_in_collector_metrics():
    from lake.collector.metrics import CollectorMetrics
    from lake.privacy import MASK_KINDS

    metrics = CollectorMetrics("t")
    counts = MaskCounts()
    text = (
        "a@b.example, +1 415-555-0100, 4111 1111 1111 1111, 203.0.113.7, 123-45-6789, "
        "GB82WEST12345698765432, AB123456C"
    )
    assert mask_text(text, counts).split(", ") == [
        "[email]", "[phone]", "[card]", "[ip]", "[ssn]", "[iban]", "[nino]"
    ]  # fmt: skip
    mask_message(
        {"type": "identify", "traits": {"email": "x@y.example", "street": "1 Main St"},
         "context": {"ip": "198.51.100.4"}}, KEY, counts
    )  # fmt: skip
    metrics.add_masked(counts)
    rendered = metrics.render().decode()
    for kind in MASK_KINDS:
        line = f'pulse_collector_pii_masked_total{{kind="{kind}"}} 1.0'
        assert line in rendered, kind
