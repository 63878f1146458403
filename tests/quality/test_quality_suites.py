"""The layer suites of quality.suites on small hand-built frames: clean data passes every
expectation, broken data fails the named expectations with the group's severity."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lake.tables import EVENTS_SCHEMA, QUARANTINE_SCHEMA
from quality.gx_suites import ExpectationGroup, Suite, validate, validate_all
from quality.suites import bronze_suites, mart_suites, staging_suites
from quality.suites.marts import DimensionKeys

DAY = dt.date(2026, 1, 10)
TS = pd.Timestamp("2026-01-10 10:00", tz="UTC")


def by_name(suites: list[Suite]) -> dict[str, Suite]:
    return {s.name: s for s in suites}


def events_frame(n: int = 5) -> pd.DataFrame:
    data = {name: [None] * n for name in EVENTS_SCHEMA.names}
    data.update(
        message_id=[f"m{i}" for i in range(n)],
        type=["track"] * n,
        event=["App Opened"] * n,
        user_id=[f"u{i}" for i in range(n)],
        timestamp=[TS] * n,
        received_at=[TS] * n,
        source_id=["sim"] * n,
        collector_id=["c"] * n,
        sequence=list(range(n)),
        event_date=[DAY] * n,
    )
    return pd.DataFrame(data)


def quarantine_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "message_id": ["q1"],
            "reason": ["invalid_timestamp"],
            "payload": ["{}"],
            "source_id": ["sim"],
            "collector_id": ["c"],
            "received_at": [TS],
            "received_date": [DAY],
        }
    )[QUARANTINE_SCHEMA.names]


def test_bronze_suites_pass_clean_and_fail_broken_with_severity():
    suites = bronze_suites()
    clean = validate_all(suites, {"events": events_frame(), "quarantine": quarantine_frame()})
    assert all(r.success for r in clean.values()), [r.describe() for r in clean.values()]

    broken = events_frame(10)
    broken.loc[0, "type"] = "purchase"  # not a Segment type: error
    broken.loc[1, "source_id"] = None  # envelope field missing: error
    broken.loc[2:, "message_id"] = "m2"  # a replayed batch: duplicate share 0.3 (warn)
    result = validate(by_name(suites)["bronze.events"], broken.drop(columns=["sequence"]))
    assert not result.success and result.severity == "error"
    failed = {o.name: o.severity for o in result.outcomes if not o.success}
    assert failed["expect_column_values_to_be_in_set(type)"] == "error"
    assert failed["expect_column_values_to_not_be_null(source_id)"] == "error"
    assert failed["expect_table_columns_to_match_set"] == "error"
    assert failed["expect_column_proportion_of_unique_values_to_be_between(message_id)"] == "warn"
    assert "[error] expect_column_values_to_be_in_set(type)" in result.describe()

    bad_reason = quarantine_frame().assign(reason="made_up")
    q = validate(by_name(suites)["bronze.quarantine"], bad_reason)
    assert q.failed == ["expect_column_values_to_be_in_set(reason)"]


def test_warn_only_failure_has_warn_severity():
    suites = by_name(staging_suites())
    users = pd.DataFrame({"user_id": ["u1", "u2"]})
    assert validate(suites["staging.stg_app_users"], users).success
    programs = pd.DataFrame({"program_id": ["p1", "p2"], "list_price": [10.0, -1.0]})
    result = validate(suites["staging.stg_app_programs"], programs)
    assert result.failed == ["expect_column_values_to_be_between(list_price)"]
    assert result.severity == "warn"
    dup = validate(suites["staging.stg_app_users"], pd.DataFrame({"user_id": ["u1", "u1"]}))
    assert dup.severity == "error"


def test_referential_integrity_of_facts_in_dimensions():
    dims = DimensionKeys(users={"u1", "u2"}, programs={"p1"}, trainers={"t1"})
    suite = by_name(mart_suites(dims))["marts.fct_user_daily"]
    daily = pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "activity_date": [DAY, DAY],
            "events": [3, 1],
            "sessions": [1, 1],
            "revenue": [0.0, 9.99],
        }
    )
    assert validate(suite, daily).success
    orphan = daily.assign(user_id=["u1", "u404"])
    result = validate(suite, orphan)
    assert result.failed == ["expect_column_values_to_be_in_set(user_id)"]
    assert result.severity == "error"


def test_missing_table_fails_its_suite_and_bad_severity_is_rejected():
    [suite] = [s for s in staging_suites() if s.table == "stg_app_plans"]
    [result] = validate_all([suite], {}).values()
    assert not result.success and result.severity == "error"
    assert "stg_app_plans is missing" in result.describe()
    with pytest.raises(ValueError, match="severity 'fatal'"):
        Suite("x", "t", (ExpectationGroup("keys", "fatal", list),))  # type: ignore[arg-type]


def test_prune_keeps_the_newest_validation_runs_per_suite(tmp_path):
    from quality.gx_suites import prune_validations

    root, docs = tmp_path / "gx_root", tmp_path / "docs"
    store = root / "gx" / "uncommitted" / "validations"
    for suite in ("marts/fct_sessions_suite", "bronze/events_suite"):
        for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
            (store / suite / "__none__" / stamp).mkdir(parents=True)
            (docs / "validations" / suite / "__none__" / stamp).mkdir(parents=True)
    assert prune_validations(root, docs, keep=2) == 4  # one per suite, in store and site
    left = sorted(p.name for p in (store / "marts/fct_sessions_suite/__none__").iterdir())
    assert left == ["20260102T000000Z", "20260103T000000Z"]
    assert prune_validations(root, docs, keep=2) == 0
