"""The ``inferred_members`` check on a hand-built warehouse: what it finds, the ids and numbers it
names, and that it passes once the dimensions hold no inferred member. (The whole path, from an
event to the alert and the repair, runs in ``test_late_arriving_members.py``.)"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb
import pytest

from orchestration.checks.inferred_members import (
    CHECK_NAME,
    DESCRIBED_IDS,
    check_result,
    find_inferred,
)

EXPORTED = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)
RELATIONS = {
    name: f"main.{name}"
    for name in (
        "dim_programs",
        "dim_trainers",
        "int_program_references",
        "stg_marketplace_events",
        "stg_app_programs",
        "stg_app_trainers",
    )
}


def _warehouse(inferred_programs: int = 1) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(
        f"""
        create table stg_app_programs as
            select 'pg_1' as program_id, timestamptz '{EXPORTED}' as exported_at;
        create table stg_app_trainers as
            select 'tr_1' as trainer_id, timestamptz '{EXPORTED}' as exported_at;
        create table dim_programs (program_id varchar, trainer_id varchar, is_inferred boolean);
        insert into dim_programs values ('pg_1', 'tr_1', false);
        create table dim_trainers (trainer_id varchar, is_inferred boolean);
        insert into dim_trainers values ('tr_1', false), ('tr_new', true);
        create table int_program_references (program_id varchar, first_seen_at timestamptz,
            purchases bigint, gross_revenue double);
        insert into int_program_references
            values ('pg_1', timestamptz '2026-02-01 08:00:00+00', 9, 180.0);
        create table stg_marketplace_events (trainer_id varchar, marketplace_event_type varchar,
            amount double, event_at timestamptz);
        insert into stg_marketplace_events values
            ('tr_new', 'viewed', null, timestamptz '2026-02-28 09:00:00+00'),
            ('tr_new', 'purchased', 49.0, timestamptz '2026-02-28 10:00:00+00'),
            ('tr_1', 'purchased', 20.0, timestamptz '2026-02-28 11:00:00+00');
        """
    )
    for i in range(inferred_programs):
        program, seen = f"pg_new_{i:02d}", dt.datetime(2026, 2, 28, 10, i, tzinfo=dt.UTC)
        con.execute("insert into dim_programs values (?, 'tr_new', true)", [program])
        con.execute("insert into int_program_references values (?, ?, 1, 49.0)", [program, seen])
    return con


def test_inferred_members_are_named_with_their_sales_and_warn():
    programs, trainers = find_inferred(_warehouse(), RELATIONS)

    assert [m.id for m in programs.members] == ["pg_new_00"]
    assert programs.export_at == EXPORTED
    result = check_result(programs)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.asset_key == dg.AssetKey("dim_programs") and result.check_name == CHECK_NAME
    assert result.metadata["ids"].value == ["pg_new_00"]
    assert result.metadata["gross_revenue"].value == 49.0
    assert result.description.startswith(
        "1 program mentioned by events is not in the app's latest export "
        "(stg_app_programs, exported 2026-03-01 06:00 UTC): "
        "pg_new_00 (first seen 2026-02-28 10:00 UTC, 1 purchase(s), 49.00)"
    )

    # The trainer's evidence is its marketplace events: two of them, one a purchase.
    [member] = trainers.members
    assert (member.id, member.purchases, member.gross_revenue) == ("tr_new", 1, 49.0)
    assert member.first_seen_at == dt.datetime(2026, 2, 28, 9, 0, tzinfo=dt.UTC)
    assert check_result(trainers).metadata["ids"].value == ["tr_new"]


def test_no_inferred_member_passes():
    con = _warehouse(inferred_programs=0)
    con.execute("delete from dim_trainers where is_inferred")
    for finding in find_inferred(con, RELATIONS):
        result = check_result(finding)
        assert result.passed, result.description
        assert result.metadata["ids"].value == []
        assert "is in the app's export" in result.description


def test_many_inferred_members_all_in_the_metadata_some_in_the_description():
    programs, _ = find_inferred(_warehouse(inferred_programs=DESCRIBED_IDS + 5), RELATIONS)
    result = check_result(programs)
    assert len(result.metadata["ids"].value) == DESCRIBED_IDS + 5
    assert result.metadata["inferred"].value == DESCRIBED_IDS + 5
    assert "pg_new_00 " in result.description and "pg_new_24" not in result.description
    assert "... and 5 more (metadata `ids`)" in result.description


@pytest.mark.parametrize("missing", ["dim_programs", "stg_app_programs", "int_program_references"])
def test_a_model_not_built_is_reported_not_passed(missing):
    programs, trainers = find_inferred(_warehouse(), {**RELATIONS, missing: None})
    result = check_result(programs)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.description.startswith(f"{missing} is not in the warehouse")
    assert check_result(trainers).metadata["ids"].value == ["tr_new"]  # evaluated on its own
