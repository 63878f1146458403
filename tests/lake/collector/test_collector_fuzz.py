"""Fuzz the live collector from its own OpenAPI document (schemathesis): no input gives a 5xx,
responses match the documented status codes and schemas, and the service stays up."""

from __future__ import annotations

import itertools

import httpx
import pytest
import schemathesis
from collector_harness import Collector, basic, new_source
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    key = new_source(data_dir, "fuzz")
    c = Collector(data_dir, "fz").start()
    yield c, key
    c.stop()


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def _fuzzer(operation, mode, url: str, key: str, seen: dict[int, int]):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def fuzz(case):
        headers = {}
        if case.method == "POST" and "X-Write-Key" not in (case.headers or {}):
            headers = basic(key)
        response = case.call(base_url=url, headers=headers)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        if mode is schemathesis.GenerationMode.NEGATIVE:
            assert response.status_code < 500, (case.path, response.text)
        else:
            case.validate_response(response, checks=CHECKS)

    return fuzz


def test_no_input_yields_a_server_error(live):
    c, key = live
    api = schemathesis.openapi.from_url(c.url + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 17
    seen: dict[int, int] = {}
    for operation, mode in itertools.product(operations, list(schemathesis.GenerationMode)):
        if mode is schemathesis.GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # nothing to break in a GET without parameters
        _fuzzer(operation, mode, c.url, key, seen)()
    assert seen.get(200, 0) > 20 and seen.get(400, 0) > 5, seen


def test_service_is_still_up_after_fuzzing(live):
    c, key = live
    assert httpx.get(c.url + "/ready").status_code == 200
    r = httpx.post(
        c.url + "/v1/track",
        json={"userId": "u", "event": "Feature Used", "properties": {"feature": "x"}},
        headers=basic(key),
    )
    assert r.status_code == 200
