"""Consent extraction and the gate on the shared normalization path (lake/pipeline.py)."""

from __future__ import annotations

import pytest

from core.settings import Settings
from lake.consent import ConsentGate, consent_change, rebuild_gate
from lake.pipeline import EVENT, prepare
from lake.privacy import pseudonymize
from lake.writer import DeltaSink

KEY = b"test-key-123"


def track(mid: str, user: str | None = "u1", event: str = "Feature Used", **props) -> dict:
    msg = {"type": "track", "event": event, "messageId": mid, "properties": props}
    if user:
        msg["userId"] = user
    return msg


def consent(mid: str, user: str = "u1", anon: str | None = None, **flags) -> dict:
    msg = track(
        mid,
        user,
        "Consent Updated",
        **{"analytics": True, "marketing": True, "personalization": True, **flags},
    )
    if anon:
        msg["anonymousId"] = anon
    return msg


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (consent("m", analytics=False), (False, True, True)),
        (
            {"type": "identify", "userId": "u", "traits": {"consent": {"marketing": False}}},
            (None, False, None),
        ),
        ({"type": "identify", "userId": "u", "traits": {"plan": "pro"}}, None),
        ({"type": "identify", "userId": "u", "traits": {"consent": {"analytics": "no"}}}, None),
        (track("m", feature="x"), None),
        ({"type": "page", "userId": "u", "properties": {"analytics": False}}, None),
    ],
)
def test_consent_change_reads_both_shapes(message, expected):
    change = consent_change(message)
    if expected is None:
        assert change is None
    else:
        assert (change.analytics, change.marketing, change.personalization) == expected


def test_gate_drops_after_withdrawal_by_user_and_device_and_resumes_on_regrant():
    gate = ConsentGate()
    batch = [
        track("a", feature="x"),
        consent("b", anon="dev-1", analytics=False),
        track("c", feature="x"),
        {**track("d", None, feature="x"), "anonymousId": "dev-1"},
        {
            "type": "identify",
            "userId": "u1",
            "messageId": "e",
            "traits": {"email": "ann@example.com", "consent": {"analytics": True}},
        },
        track("f", feature="x"),
        track("g", "u2", feature="x"),
    ]
    out = prepare(batch, key=KEY, source_id="s", received_at_us=1_000_000, consent=gate)
    stored = [row["message_id"] for kind, row in out.records if kind == EVENT]
    assert stored == ["a", "e", "f", "g"]
    assert out.consent_dropped == 3 and len(out.consent_changes) == 2
    ledger = [row for kind, row in out.records if kind == "consent"]
    assert [(r["message_id"], r["analytics"], r["source"]) for r in ledger] == [
        ("b", False, "track"),
        ("e", True, "identify"),
    ]
    identify = next(row for kind, row in out.records if kind == EVENT and row["message_id"] == "e")
    assert pseudonymize("ann@example.com", KEY) in identify["traits"]  # masking still keyed


def test_denied_default_stores_nothing_until_granted_and_invalid_consent_changes_nothing():
    gate = ConsentGate(default=False)
    bad = {**consent("b"), "properties": {"analytics": "yes"}}  # not a boolean: no change
    out = prepare(
        [track("a", feature="x"), bad, consent("c"), track("d", feature="x")],
        key=KEY,
        source_id="s",
        received_at_us=1_000_000,
        consent=gate,
    )
    assert [row["message_id"] for kind, row in out.records if kind == EVENT] == ["c", "d"]
    assert out.consent_dropped == 2


def test_gate_is_rebuilt_from_the_ledger(tmp_path):
    settings = Settings(data_dir=tmp_path)
    out = prepare(
        [
            consent("b", anon="dev-1", analytics=False),
            consent("c", "u2", analytics=False),
            consent("d", "u2"),
        ],
        key=KEY,
        source_id="s",
        received_at_us=1_000_000,
        consent=ConsentGate(),
    )
    rows = [
        dict(row, collector_id="t", sequence=i)
        for i, (k, row) in enumerate(out.records)
        if k == "consent"
    ]
    DeltaSink(settings).append("consent", rows)
    gate = rebuild_gate(settings)
    assert gate.analytics == {"u1": False, "dev-1": False, "u2": True}
    assert not gate.allows("u1") and gate.allows("u3") and gate.allows(None)
