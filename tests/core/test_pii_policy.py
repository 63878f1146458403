"""The PII field policy file: YAML or JSON, validated with messages naming the problem, and a bad
file named by PULSE_PII_POLICY_PATH stops the settings from loading."""

from __future__ import annotations

import pytest

from core.pii_policy import PolicyError, load_policy


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
    from core.settings import SettingsError, get_settings

    with pytest.raises(PolicyError, match="cannot read it"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("traits:\n  email: hash\n")
    monkeypatch.setenv("PULSE_PII_POLICY_PATH", str(bad))
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match=r"PULSE_PII_POLICY_PATH.*unknown action 'hash'"):
            get_settings()
    finally:
        get_settings.cache_clear()
