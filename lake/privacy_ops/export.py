"""Right of access: everything Pulse holds about a user, as one JSON document.

The same identity resolution and row rule as erasure (:mod:`.identity`) select the rows of every
Delta table, every warehouse table (opened read-only: fails with a clear message while a dbt run
holds it) and every loose Parquet file (gold publications, scores, archives). Each export is
audited (``export``, by the subject's keyed hash, with the row count).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import orjson

from core.settings import Settings
from lake import audit
from lake.privacy_ops import delta, warehouse
from lake.privacy_ops.files import loose_files
from lake.privacy_ops.identity import (
    Relation,
    detect_columns,
    resolve,
    row_predicate,
    validate_user_id,
)
from lake.privacy_ops.verify import PARQUET_MAGIC
from lake.sql import quote_literal


def _rows(con, relation: Relation, predicate: str) -> list[dict[str, Any]]:
    cur = con.execute(f"select * from {relation.name} where {predicate}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _open_warehouse_read_only(settings: Settings):
    path = settings.warehouse_path
    if not path.exists():
        return None
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise warehouse.WarehouseLocked(
                f"the warehouse {path} is in use by another process (a dbt run holds its lock): "
                "run the export again when that run has finished."
            ) from None
        raise


def export_user(settings: Settings, user_id: str, *, actor: str | None = None) -> dict[str, Any]:
    """The export document (``tables`` empty when Pulse holds nothing about the user)."""
    user_id = validate_user_id(user_id)
    con = _open_warehouse_read_only(settings)
    has_warehouse = con is not None
    con = con if con is not None else duckdb.connect()
    try:
        lake_rel = [
            rel
            for i, path in enumerate(delta.discover_tables(settings))
            if (rel := delta.register(con, settings, path, f"pulse_export_lake_{i}")) is not None
        ]
        wh_rel = warehouse.relations(con) if has_warehouse else []
        identity = resolve(con, lake_rel + wh_rel, user_id)
        tables: dict[str, list[dict[str, Any]]] = {}
        for rel in lake_rel + wh_rel:
            predicate = row_predicate(rel.columns, identity)
            if predicate and (rows := _rows(con, rel, predicate)):
                tables[rel.label] = rows
        for path in loose_files(settings):
            with path.open("rb") as fh:
                if fh.read(4) != PARQUET_MAGIC:
                    continue
            source = f"read_parquet({quote_literal(str(path))})"
            names_types = [
                (n, t == "VARCHAR")
                for n, t, *_ in con.execute(f"describe select * from {source}").fetchall()
            ]
            rel = Relation(
                source,
                f"file/{path.relative_to(settings.data_dir).as_posix()}",
                detect_columns(con, source, names_types),
            )
            predicate = row_predicate(rel.columns, identity)
            if predicate and (rows := _rows(con, rel, predicate)):
                tables[rel.label] = rows
    finally:
        con.close()
    total = sum(len(r) for r in tables.values())
    document = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "subject": audit.subject_token(settings, user_id),
        "user_id": user_id,
        "linked_anonymous_ids": sorted(identity.anonymous_ids),
        "pseudonymized_pii_tokens": sorted(identity.tokens),
        "rows": total,
        "tables": tables,
    }
    audit.record(
        settings,
        audit.AuditEntry(
            "export",
            subject=document["subject"],
            target="*",
            rows=total,
            details={"tables": {k: len(v) for k, v in tables.items()}},
            **({"actor": actor} if actor else {}),
        ),
    )
    return document


def write_export(document: dict[str, Any], out: Path | None) -> bytes:
    """The document as indented JSON (dates and decimals as strings), written to ``out`` if given."""
    data = orjson.dumps(document, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data + b"\n")
    return data
