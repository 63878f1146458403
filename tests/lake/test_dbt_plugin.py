"""lake.dbt_plugin: a configured table that is not landed yet reads as empty with its declared
columns (bronze/dashboard_accounts before anyone signs in); any other missing table fails when
read, saying what to do."""

from __future__ import annotations

import duckdb
import pytest

from lake.dbt_plugin import Plugin


def _plugin(tmp_path, **config) -> Plugin:
    return Plugin(
        "lake.dbt_plugin",
        {
            "tables": {
                "bronze_accounts": str(tmp_path / "bronze" / "dashboard_accounts"),
                "bronze_events": str(tmp_path / "bronze" / "events"),
            },
            **config,
        },
    )


def test_a_missing_table_with_declared_columns_reads_as_empty(tmp_path):
    plugin = _plugin(
        tmp_path,
        empty_when_missing={"bronze_accounts": "account_id varchar, created_at timestamptz"},
    )
    con = duckdb.connect()
    plugin.configure_cursor(con)
    assert con.execute("select * from bronze_accounts").fetchall() == []
    assert [d[0] for d in con.execute("select * from bronze_accounts").description] == [
        "account_id",
        "created_at",
    ]
    with pytest.raises(duckdb.Error, match="does not exist: land events first"):
        con.execute("select * from bronze_events").fetchall()


def test_empty_when_missing_must_name_configured_tables(tmp_path):
    with pytest.raises(ValueError, match="empty_when_missing"):
        _plugin(tmp_path, empty_when_missing={"bronze_other": "a varchar"})
    bad = _plugin(tmp_path, empty_when_missing={"bronze_accounts": "a; drop table x"})
    with pytest.raises(ValueError, match="bad column"):
        bad.configure_cursor(duckdb.connect())
