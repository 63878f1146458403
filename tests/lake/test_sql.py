"""Identifiers and literals built by lake.sql survive both engines Pulse sends SQL to (DuckDB, and
DataFusion inside delta-rs), whatever the name; and the local paths of a Delta table's files are
right when its folder or a partition value holds a space or a percent sign."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lake.delta_files import local_data_files
from lake.sql import column_list, literal_list, qualified, quote_ident, quote_literal

ODD_NAMES = ["table", "select", "order", "user id", 'it\'s "quoted"', "Mixed Case", "ünï"]


def test_quoting_rules():
    assert quote_ident("table") == '"table"'
    assert quote_ident('a"b') == '"a""b"'
    assert qualified("main", 'odd "t"') == '"main"."odd ""t"""'
    assert quote_literal("it's") == "'it''s'"
    assert literal_list(["a", "b'"]) == "('a', 'b''')"
    assert column_list(["x", "y"]) == '"x", "y"'
    for bad in ("", "a\x00b"):
        with pytest.raises(ValueError):
            quote_ident(bad)
    with pytest.raises(ValueError):
        literal_list([])


def test_odd_names_round_trip_in_duckdb():
    con = duckdb.connect()
    table = 'odd "table" name'
    cols = ", ".join(f"{quote_ident(c)} varchar" for c in ODD_NAMES)
    con.execute(f"create table {qualified('main', table)} ({cols})")
    con.execute(
        f"insert into {qualified('main', table)} values ({', '.join('?' * len(ODD_NAMES))})",
        [f"v{i}'" for i in range(len(ODD_NAMES))],
    )
    for i, name in enumerate(ODD_NAMES):
        rows = con.execute(
            f"select {quote_ident(name)} from {qualified('main', table)} "
            f"where {quote_ident(name)} in {literal_list([f'v{i}' + chr(39)])}"
        ).fetchall()
        assert rows == [(f"v{i}'",)], name


def test_odd_names_in_a_delta_delete_predicate(tmp_path):
    path = tmp_path / "odd"
    write_deltalake(str(path), pa.table({n: ["keep", "drop"] for n in ODD_NAMES}))
    for name in ODD_NAMES:
        table = DeltaTable(str(path))
        table.delete(f"{quote_ident(name)} = {quote_literal('gone')}")  # matches nothing
    DeltaTable(str(path)).delete(f"{quote_ident(ODD_NAMES[4])} IN {literal_list(['drop'])}")
    assert DeltaTable(str(path)).to_pyarrow_table().column("table").to_pylist() == ["keep"]


def test_local_data_files_of_a_table_in_a_folder_with_spaces_and_percent_partitions(tmp_path):
    path = tmp_path / "My Projects 100%" / "x y"
    data = pa.table({"k": ["a b", "c%d", "plain"], "v": [1, 2, 3]})
    write_deltalake(str(path), data, partition_by=["k"])
    files = local_data_files(DeltaTable(str(path)))
    assert files is not None and len(files) == 3
    assert all(f.is_file() and f.is_relative_to(path) for f in files)
    listing = "[" + ", ".join(quote_literal(str(f)) for f in files) + "]"
    assert duckdb.sql(f"select sum(v) from read_parquet({listing})").fetchall() == [(6,)]
