"""The event schema registry: every simulated well-formed event passes, bad ones fail clearly."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import orjson
import pytest

from lake.schemas import SchemaRegistry, SchemaRegistryError, SchemaVerdict, snake_name
from lake.simulator import SimConfig, generate_world

DESIGN_EVENTS = {
    "Signed Up", "Consent Updated", "App Opened", "Screen Viewed", "Feature Used",
    "Workout Started", "Workout Completed", "Program Viewed", "Program Purchased",
    "Program Refunded", "Trainer Followed", "Subscription Started", "Subscription Renewed",
    "Subscription Cancelled", "Payment Failed", "Recommendation Shown", "Recommendation Accepted",
    "Recommendation Rejected", "Recommendation Modified", "Recommendation Rated",
    "Safety Flag Raised", "Model Deployed", "Model Rolled Back", "Experiment Exposed",
    "API Request",
}  # fmt: skip
# Pulse's own usage events (apps/streamlit/usage.py, the internal source).
DASHBOARD_EVENTS = {"Dashboard Viewed", "Filter Changed", "Export Downloaded", "Dashboard Saved"}


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


@pytest.fixture(scope="module")
def world():
    cfg = SimConfig(users=400, days=30, seed=11, end_date=date(2025, 2, 1), malformed_rate=0.02)
    return generate_world(cfg)


def test_every_design_event_has_a_schema(registry: SchemaRegistry) -> None:
    assert registry.names == DESIGN_EVENTS | DASHBOARD_EVENTS
    for name in registry.names:
        assert registry.versions(name) == ["1-0-0"]
        doc = registry.schema(name)
        assert doc["self"] == {"name": name, "version": "1-0-0"}
        assert doc["additionalProperties"] is True


def test_every_well_formed_simulated_event_validates(registry: SchemaRegistry, world) -> None:
    malformed = set(world.ground_truth["malformed_message_ids"])
    seen: set[str] = set()
    checked = 0
    for msg in world.messages:
        if msg.get("type") != "track" or "messageId" not in msg or msg["messageId"] in malformed:
            continue
        verdict = registry.check(msg["event"], msg["properties"])
        assert verdict.known, msg["event"]
        assert verdict.valid, (msg["event"], verdict.error)
        seen.add(msg["event"])
        checked += 1
    assert checked > 10_000
    # the simulator sends every event but Screen Viewed (it sends screen calls instead)
    assert seen >= DESIGN_EVENTS - {"Screen Viewed", "Payment Failed", "Program Refunded"}


def test_simulated_bad_properties_fail(registry: SchemaRegistry, world) -> None:
    bad_ids = {
        m["message_id"] for m in world.ground_truth["malformed"] if m["kind"] == "bad_properties"
    }
    failed = 0
    for payload in world.events.column("payload").to_pylist():
        msg = orjson.loads(payload)
        if msg.get("type") == "track" and msg.get("messageId", None) in bad_ids - {None}:
            verdict = registry.check(msg["event"], msg["properties"])
            assert verdict.known and not verdict.valid
            assert verdict.error == "properties: must be of type object"
            failed += 1
    assert failed > 0


@pytest.mark.parametrize(
    ("event", "props", "error"),
    [
        (
            "Safety Flag Raised",
            {"recommendation_id": "r", "model_version": "m", "flag_type": "x", "severity": "dire"},
            "properties.severity: must be one of ['low', 'medium', 'high']",
        ),
        (
            "Safety Flag Raised",
            {"recommendation_id": "r", "model_version": "m", "flag_type": "x"},
            "properties: missing required severity",
        ),
        (
            "Recommendation Rated",
            {"recommendation_id": "r", "model_version": "m", "rating": 6},
            "properties.rating: violates maximum 5",
        ),
        (
            "Recommendation Rated",
            {"recommendation_id": "r", "model_version": "m", "rating": 0},
            "properties.rating: violates minimum 1",
        ),
        (
            "Recommendation Rated",
            {"recommendation_id": "r", "model_version": "m", "rating": 4.5},
            "properties.rating: must be of type integer",
        ),
        (
            "Program Purchased",
            {
                "order_id": "o",
                "program_id": "p",
                "trainer_id": "t",
                "revenue": -5,
                "currency": "USD",
            },
            "properties.revenue: violates minimum 0",
        ),
        (
            "Program Purchased",
            {
                "order_id": "o",
                "program_id": "p",
                "trainer_id": "t",
                "revenue": "9.99",
                "currency": "USD",
            },
            "properties.revenue: must be of type number",
        ),
        (
            "Subscription Started",
            {"plan": "premium_monthly", "revenue": 14.99, "currency": "dollars"},
            "properties.currency: violates pattern ^[A-Z]{3}$",
        ),
        (
            "API Request",
            {"endpoint": "/v1/feed", "status": 999, "latency_ms": 3.0},
            "properties.status: violates maximum 599",
        ),
        (
            "Workout Completed",
            {"workout_id": "w", "duration_minutes": 0},
            "properties.duration_minutes: violates exclusiveMinimum 0",
        ),
        (
            "Consent Updated",
            {"analytics": "yes", "marketing": False, "personalization": True},
            "properties.analytics: must be of type boolean",
        ),
    ],
)
def test_obviously_wrong_values_fail_naming_property_and_rule(
    registry: SchemaRegistry, event: str, props: dict, error: str
) -> None:
    verdict = registry.check(event, props)
    assert verdict == SchemaVerdict(known=True, valid=False, error=error, schema_version="1-0-0")


def test_error_never_echoes_the_value(registry: SchemaRegistry) -> None:
    secret = "jane.doe@example.com"
    for props in ({"feature": secret * 300}, {"feature": 5, "comment": secret}):
        verdict = registry.check("Feature Used", props)
        assert not verdict.valid and secret not in (verdict.error or "")
    verdict = registry.check("Program Viewed", {"program_id": "p", "currency": secret})
    assert not verdict.valid and secret not in (verdict.error or "")


def test_unknown_names_extra_properties_and_none(registry: SchemaRegistry) -> None:
    assert registry.check("Totally New Event", {"x": 1}) == SchemaVerdict(False, True, None, None)
    ok = registry.check("Trainer Followed", {"trainer_id": "tr_1", "app_specific": [1, 2]})
    assert ok.valid and ok.schema_version == "1-0-0"
    assert registry.check("App Opened", None).valid
    assert not registry.check("Trainer Followed", None).valid
    assert snake_name("API Request") == "api_request"


def _write(root: Path, folder: str, version: str, doc: dict) -> None:
    path = root / "events" / folder / f"{version}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def _doc(name: str, version: str, **extra) -> dict:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "self": {"name": name, "version": version},
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "additionalProperties": True,
        **extra,
    }


def test_latest_version_validates_and_old_ones_stay_readable(tmp_path: Path) -> None:
    _write(tmp_path, "thing_done", "1-0-0", _doc("Thing Done", "1-0-0", required=["a"]))
    _write(tmp_path, "thing_done", "1-1-0", _doc("Thing Done", "1-1-0", required=["a"]))
    _write(tmp_path, "thing_done", "1-10-0", _doc("Thing Done", "1-10-0", required=["a"]))
    _write(tmp_path, "thing_done", "2-0-0", _doc("Thing Done", "2-0-0", required=["a", "b"]))
    reg = SchemaRegistry.load(tmp_path)
    assert reg.versions("Thing Done") == ["1-0-0", "1-1-0", "1-10-0", "2-0-0"]
    assert reg.check("Thing Done", {"a": "x"}).error == "properties: missing required b"
    assert reg.check("Thing Done", {"a": "x", "b": 1}).schema_version == "2-0-0"
    assert reg.schema("Thing Done", "1-0-0")["required"] == ["a"]
    with pytest.raises(KeyError):
        reg.schema("Thing Done", "9-9-9")


@pytest.mark.parametrize(
    ("folder", "version", "doc", "message"),
    [
        ("thing_done", "1-0-0", _doc("Thing Done", "1-0-1"), "disagrees with the file name"),
        ("other_thing", "1-0-0", _doc("Thing Done", "1-0-0"), "belongs in folder 'thing_done'"),
        ("thing_done", "1-0", _doc("Thing Done", "1-0"), "not MAJOR-MINOR-PATCH"),
        ("thing_done", "1-0-0", {"type": "object"}, '"self"'),
        ("thing_done", "1-0-0", _doc("Thing Done", "1-0-0", required=["zz"]), "not described"),
        ("thing_done", "1-0-0", _doc("Thing Done", "1-0-0", type="array"), '"type": "object"'),
        (
            "thing_done",
            "1-0-0",
            _doc("Thing Done", "1-0-0", minProperties="x"),
            "invalid JSON Schema",
        ),
    ],
)
def test_load_rejects_inconsistent_files(
    tmp_path: Path, folder: str, version: str, doc: dict, message: str
) -> None:
    _write(tmp_path, folder, version, doc)
    with pytest.raises(SchemaRegistryError, match=message.replace("(", r"\(")):
        SchemaRegistry.load(tmp_path)


def test_load_rejects_bad_json_and_breaking_minor_bumps(tmp_path: Path) -> None:
    bad = tmp_path / "a"
    (bad / "events" / "thing_done").mkdir(parents=True)
    (bad / "events" / "thing_done" / "1-0-0.json").write_text("{not json")
    with pytest.raises(SchemaRegistryError, match="not readable JSON"):
        SchemaRegistry.load(bad)
    root = tmp_path / "b"
    _write(root, "thing_done", "1-0-0", _doc("Thing Done", "1-0-0"))
    _write(root, "thing_done", "1-1-0", _doc("Thing Done", "1-1-0", required=["a"]))
    with pytest.raises(SchemaRegistryError, match="bump the MAJOR"):
        SchemaRegistry.load(root)
    with pytest.raises(SchemaRegistryError, match="no schema directory"):
        SchemaRegistry.load(tmp_path / "missing")


def test_check_speed_smoke(registry: SchemaRegistry) -> None:
    props = {
        "workout_id": "wo_00001_06",
        "program_id": "pg_00001",
        "duration_minutes": 31.4,
        "calories": 250,
    }
    n = 50_000
    start = time.perf_counter()
    for _ in range(n):
        registry.check("Workout Completed", props)
    per_call = (time.perf_counter() - start) / n
    print(f"SchemaRegistry.check: {per_call * 1e6:.2f} µs/event")
