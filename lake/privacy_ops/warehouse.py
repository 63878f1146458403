"""Erasure in dbt's DuckDB warehouse (``settings.warehouse_path``).

Every base table with a text column is covered (views are re-read from their tables). DuckDB
keeps deleted rows' bytes in free blocks of the file until they are reused, so after deleting,
the database is copied into a fresh file (``COPY FROM DATABASE``: tables, views, macros,
sequences) that atomically replaces the old one while the old one is still locked by us.

The warehouse has one writer: :func:`open_writer` takes the write lock at the very start of an
erasure and fails at once, with :class:`WarehouseLocked`, if anyone else (a dbt run, a Dagster
step) holds it, so nothing is half-done and nothing is corrupted; re-run when they finish.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from core.settings import Settings
from lake.privacy_ops.identity import Identity, Relation, detect_columns, row_predicate
from lake.sql import qualified, quote_ident, quote_literal


class WarehouseLocked(RuntimeError):
    """Another process holds the warehouse; the message says what to do."""


def open_writer(settings: Settings) -> duckdb.DuckDBPyConnection | None:
    """The write connection (None if there is no warehouse yet)."""
    path = settings.warehouse_path
    if not path.exists():
        return None
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLocked(
                f"the warehouse {path} is in use by another process (a dbt run or a Dagster "
                "materialization holds its write lock): nothing was erased. Re-run the erasure "
                "when that run has finished."
            ) from None
        raise


def relations(con: duckdb.DuckDBPyConnection) -> list[Relation]:
    """Every base table of the warehouse as a :class:`Relation` named ``"schema"."table"``."""
    rows = con.execute(
        "select c.table_schema, c.table_name, c.column_name, c.data_type "
        "from information_schema.columns c join information_schema.tables t "
        "using (table_catalog, table_schema, table_name) "
        "where t.table_type = 'BASE TABLE' and c.table_catalog = current_database() "
        "order by c.table_schema, c.table_name, c.ordinal_position"
    ).fetchall()
    tables: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    for schema, table, column, dtype in rows:
        tables.setdefault((schema, table), []).append((column, dtype == "VARCHAR"))
    out = []
    for (schema, table), cols in tables.items():
        name = qualified(schema, table)
        out.append(Relation(name, f"warehouse/{schema}.{table}", detect_columns(con, name, cols)))
    return out


def delete_rows(con: duckdb.DuckDBPyConnection, relation: Relation, identity: Identity) -> int:
    predicate = row_predicate(relation.columns, identity)
    if predicate is None:
        return 0
    return int(con.execute(f"delete from {relation.name} where {predicate}").fetchall()[0][0])


def rewrite_file(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Copy the database into a fresh file and swap it in (no free blocks with old rows).

    ``con`` stays open (holding the old file's lock) until the new file is in place, so no other
    writer can slip in between; it is closed here."""
    path = settings.warehouse_path
    fresh = path.with_name(f".{path.name}.erasure-{os.getpid()}.tmp")
    for leftover in (fresh, Path(str(fresh) + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        con.execute("checkpoint")
        catalog = con.execute("select current_database()").fetchall()[0][0]
        con.execute(f"attach {quote_literal(str(fresh))} as pulse_erasure_fresh")
        con.execute(f"copy from database {quote_ident(catalog)} to pulse_erasure_fresh")
        con.execute("detach pulse_erasure_fresh")
        os.replace(fresh, path)
        Path(str(path) + ".wal").unlink(missing_ok=True)
    finally:
        con.close()
        fresh.unlink(missing_ok=True)
