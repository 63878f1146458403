"""Planning: what has expired at a given clock. A policy's cutoff day, the SQL predicates of its
deletes, and a table's date partitions (files, sizes and rows from the Delta log) or the expired
days that still hold rows matching a ``where`` filter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lake.sql import literal_list, quote_ident, quote_literal


def as_utc(now: dt.datetime | dt.date | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if not isinstance(now, dt.datetime):
        return dt.datetime.combine(now, dt.time(), dt.UTC)
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def cutoff_date(now: dt.datetime, keep_days: int) -> dt.date:
    """Partitions dated before this day are expired."""
    return now.date() - dt.timedelta(days=keep_days)


def where_predicate(where: dict[str, list[str]] | None) -> str | None:
    if not where:
        return None
    return " AND ".join(
        f"{quote_ident(column)} IN {literal_list(values)}"
        for column, values in sorted(where.items())
    )


def delete_predicate(date_column: str, day: dt.date, where: dict[str, list[str]] | None) -> str:
    """SQL predicate of a retention delete (typed date literal; no user identifiers in it, since
    the predicate is kept in the Delta log)."""
    date = f"{quote_ident(date_column)} = DATE {quote_literal(day.isoformat())}"
    rows = where_predicate(where)
    return f"{date} AND {rows}" if rows else date


def query(snapshot: Any, sql: str) -> pa.RecordBatchReader:
    """Run SQL over one Delta snapshot (registered as ``t``); DataFusion prunes the partitions,
    which building a pyarrow dataset of every file of a long table does not (seconds vs ms)."""
    from deltalake import QueryBuilder

    return pa.RecordBatchReader.from_stream(QueryBuilder().register("t", snapshot).execute(sql))


def count_matching(snapshot: Any, predicate: str) -> int:
    return int(
        query(snapshot, f"select count(*) from t where {predicate}").read_all()[0][0].as_py()
    )


@dataclass
class PartitionFiles:
    files: dict[str, int] = field(default_factory=dict)  # path -> size in bytes
    rows: int = 0


def partitions_by_date(delta: Any, date_column: str) -> dict[dt.date, PartitionFiles]:
    """date -> its files, sizes and row count, from the table's add actions (the log, no data)."""
    actions = pa.table(delta.get_add_actions(flatten=True))
    column = f"partition.{date_column}"
    out: dict[dt.date, PartitionFiles] = {}
    if not actions.num_rows or column not in actions.column_names:
        return out
    rows = (
        actions.column("num_records").to_pylist() if "num_records" in actions.column_names else None
    )
    for i, (path, size, value) in enumerate(
        zip(
            actions.column("path").to_pylist(),
            actions.column("size_bytes").to_pylist(),
            actions.column(column).to_pylist(),
            strict=True,
        )
    ):
        if value is None:
            continue
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        part = out.setdefault(day, PartitionFiles())
        part.files[path] = size
        part.rows += (rows[i] or 0) if rows else 0
    return out


def matching_days(
    delta: Any, date_column: str, cutoff: dt.date, where: dict[str, list[str]]
) -> dict[dt.date, int]:
    """Expired days that still hold rows matching ``where``, with their counts: one query over
    the expired range instead of one per day (most were emptied by earlier runs)."""
    column = quote_ident(date_column)
    sql = (
        f"select {column}, count(*) from t where {column} < "
        f"DATE {quote_literal(cutoff.isoformat())} and {where_predicate(where)} group by 1"
    )
    result = query(delta, sql).read_all()
    return dict(zip(result.column(0).to_pylist(), result.column(1).to_pylist(), strict=True))
