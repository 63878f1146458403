"""Erasure in the files around the tables: loose Parquet, text files, SQLite stores, the WAL.

* **Parquet outside Delta tables** (gold publications, ``churn_scores.parquet``, retention
  archives, anything new): the subject's rows (same rule as for tables) are filtered out and the
  file rewritten with its own compression, atomically; a gold publication's manifest row count
  follows. Publications are immutable for readers, but erasure must reach every retained one.
* **Text files** (reports such as Evidently HTML that embed rows, logs, JSON): each identifier is
  replaced by ``[erased]``, atomically.
* **SQLite stores** (app metadata, Dagster's run and event-log storage: run configs, logs and
  materialization previews can name a user): the same replacement in every text column, then
  ``VACUUM`` so the old pages are gone from the file.
* **The collector's WAL**: records of the subject that are already in Delta (their offset is at or
  below the collector's committed app-transaction version) are overwritten *in place* by an empty
  record of the same length and a fresh CRC: offsets stay valid, a running collector keeps
  appending safely behind them. A record not yet flushed cannot be erased from under the collector
  (it would land in Delta right after): :func:`check_wal` refuses the erasure while one exists.

Pulse's own folders that hold no personal data (the simulator's source data, the audit table)
are skipped.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from core.settings import Settings
from lake.privacy_ops.identity import Identity, row_predicate
from lake.privacy_ops.verify import DUCKDB_MAGIC, PARQUET_MAGIC, SQLITE_MAGIC, file_hits, iter_files
from lake.sql import quote_ident

REDACTED = "[erased]"
_WAL_HEADER = struct.Struct("<II")


class UnflushedEvents(RuntimeError):
    """The subject has events in a collector's WAL that are not in Delta yet."""


def _head(path: Path, n: int = 16) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _delta_roots(settings: Settings) -> list[Path]:
    from lake.privacy_ops.delta import discover_tables

    return [p.resolve() for p in discover_tables(settings)]


def loose_files(settings: Settings) -> Iterator[Path]:
    """Files outside the Delta tables, the warehouse, the WAL and the audit table."""
    from lake.audit import audit_path

    skip = [*_delta_roots(settings), audit_path(settings).resolve(), settings.wal_dir.resolve()]
    warehouse = settings.warehouse_path.resolve()
    for path in iter_files(settings):
        resolved = path.resolve()
        if resolved == warehouse or resolved.name.startswith(warehouse.name):
            continue
        if any(resolved.is_relative_to(root) for root in skip):
            continue
        yield path


# ---- Parquet ----------------------------------------------------------------------------------


def erase_parquet(con, path: Path, identity: Identity) -> int:
    """Rewrite one Parquet file without the subject's rows; returns rows removed."""
    from lake.privacy_ops.identity import detect_columns

    needles = identity.needles
    if not file_hits(path, needles):
        return 0
    source = f"read_parquet('{str(path).replace(chr(39), chr(39) * 2)}', file_row_number=true)"
    schema = pq.read_schema(path)
    names_types = [
        (
            f.name,
            pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)
            or pa.types.is_string_view(f.type),
        )
        for f in schema
    ]
    columns = detect_columns(con, source, names_types)
    predicate = row_predicate(columns, identity)
    if predicate is None:
        return 0
    drop = {
        r[0]
        for r in con.execute(f"select file_row_number from {source} where {predicate}").fetchall()
    }
    if not drop:
        return 0
    table = pq.read_table(path)
    keep = pa.array([i not in drop for i in range(table.num_rows)])
    meta = pq.ParquetFile(path).metadata
    codec = meta.row_group(0).column(0).compression.lower() if meta.num_row_groups else "zstd"
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    pq.write_table(table.filter(keep), tmp, compression=codec)
    os.replace(tmp, path)
    _update_manifest(path, table.num_rows - len(drop))
    return len(drop)


def _update_manifest(path: Path, rows: int) -> None:
    """Keep a gold publication's manifest row count in step with its rewritten mart."""
    manifest = path.parent / "manifest.json"
    if not manifest.exists():
        return
    try:
        data = json.loads(manifest.read_text())
    except ValueError:
        return
    model = data.get("models", {}).get(path.stem)
    if isinstance(model, dict) and "rows" in model:
        model["rows"] = rows
        tmp = manifest.with_name(f".manifest.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, manifest)


# ---- text and SQLite --------------------------------------------------------------------------


def redact_text(path: Path, needles: Sequence[str]) -> int:
    """Replace identifiers in a UTF-8 text file; returns how many occurrences (0: not text)."""
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        return 0
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return 0
    count = sum(text.count(n) for n in needles)
    if not count:
        return 0
    for needle in needles:
        text = text.replace(needle, REDACTED)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return count


def redact_sqlite(path: Path, needles: Sequence[str]) -> int:
    """Replace identifiers in every text column of a SQLite database, then VACUUM."""
    changed = 0
    con = sqlite3.connect(str(path), timeout=30)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
            )
        ]
        for table in tables:
            t = quote_ident(table)
            for _cid, column, ctype, *_ in con.execute(f"pragma table_info({t})").fetchall():
                kind = (ctype or "").upper()
                if kind and not any(k in kind for k in ("CHAR", "TEXT", "CLOB", "JSON")):
                    continue
                c = quote_ident(column)
                for needle in needles:
                    cur = con.execute(
                        f"update {t} set {c} = replace({c}, ?, ?) "
                        f"where typeof({c}) = 'text' and instr({c}, ?) > 0",
                        (needle, REDACTED, needle),
                    )
                    changed += cur.rowcount
        con.commit()
        if changed:
            con.execute("vacuum")
    finally:
        con.close()
    return changed


@dataclass
class FileReport:
    parquet_rows: dict[str, int]
    text_files: dict[str, int]
    sqlite_rows: dict[str, int]


def erase_files(settings: Settings, identity: Identity) -> FileReport:
    """Erase from every loose file (see the module docstring)."""
    import duckdb

    needles = identity.needles
    report = FileReport({}, {}, {})
    con = duckdb.connect()
    try:
        for path in loose_files(settings):
            rel = path.relative_to(settings.data_dir).as_posix()
            head = _head(path)
            if head[:4] == PARQUET_MAGIC:
                if n := erase_parquet(con, path, identity):
                    report.parquet_rows[rel] = n
            elif head[:16] == SQLITE_MAGIC:
                if file_hits(path, needles) and (n := redact_sqlite(path, needles)):
                    report.sqlite_rows[rel] = n
            elif head[8:12] != DUCKDB_MAGIC and (n := redact_text(path, needles)):
                report.text_files[rel] = n
    finally:
        con.close()
    return report


# ---- the write-ahead log ----------------------------------------------------------------------


def _records(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(index in segment, byte position, payload) of each valid record."""
    data = path.read_bytes()
    pos = index = 0
    while pos + _WAL_HEADER.size <= len(data):
        length, crc = _WAL_HEADER.unpack_from(data, pos)
        end = pos + _WAL_HEADER.size + length
        if end > len(data) or zlib.crc32(data[pos + _WAL_HEADER.size : end]) != crc:
            return
        yield index, pos, data[pos + _WAL_HEADER.size : end]
        index += 1
        pos = end


def _committed(settings: Settings, collector_id: str) -> dict[str, int | None]:
    from deltalake import DeltaTable

    from lake.writer import collector_app_id

    out: dict[str, int | None] = {}
    for table in ("events", "quarantine"):
        path = settings.table_path("bronze", table)
        out[table] = (
            DeltaTable(str(path)).transaction_version(collector_app_id(collector_id, table))
            if DeltaTable.is_deltatable(str(path))
            else None
        )
    return out


def _wal_hits(
    settings: Settings, needles: Sequence[str]
) -> Iterator[tuple[str, Path, int, int, bytes, bool]]:
    """(collector id, segment, offset, byte position, payload, flushed) of the subject's records."""
    from lake.pipeline import EVENT

    raw = [n.encode() for n in needles]
    if not settings.wal_dir.exists():
        return
    for collector_dir in sorted(p for p in settings.wal_dir.iterdir() if p.is_dir()):
        committed = None
        for segment in sorted(collector_dir.glob("*.wal")):
            base = int(segment.stem)
            for index, pos, payload in _records(segment):
                if not any(n in payload for n in raw):
                    continue
                if committed is None:
                    committed = _committed(settings, collector_dir.name)
                kind = orjson.loads(payload)[0]
                done = committed["events" if kind == EVENT else "quarantine"]
                offset = base + index
                yield (
                    collector_dir.name,
                    segment,
                    offset,
                    pos,
                    payload,
                    done is not None and offset <= done,
                )


def check_wal(settings: Settings, identity: Identity) -> int:
    """Raise :class:`UnflushedEvents` if a collector has unflushed records of the subject;
    returns how many flushed records of theirs the WAL still holds."""
    flushed = 0
    for collector_id, _segment, _offset, _pos, _payload, done in _wal_hits(
        settings, identity.needles
    ):
        if not done:
            raise UnflushedEvents(
                f"collector {collector_id!r} has events of this user in its write-ahead log that "
                "are not in Delta yet: nothing was erased. Wait for its next flush (every "
                f"{settings.flush_interval_seconds:g} s) or stop the collector (it flushes on "
                "shutdown), then run the erasure again."
            )
        flushed += 1
    return flushed


def erase_wal(settings: Settings, identity: Identity) -> int:
    """Blank the subject's flushed WAL records in place; returns how many."""
    blanked = 0
    for _cid, segment, _offset, pos, payload, done in list(_wal_hits(settings, identity.needles)):
        if not done:
            continue
        kind = orjson.loads(payload)[0]
        empty = orjson.dumps([kind, {}])  # same kind: a replay still skips it by offset
        blank = empty + b" " * (len(payload) - len(empty))
        with segment.open("r+b") as fh:
            fh.seek(pos)
            fh.write(_WAL_HEADER.pack(len(blank), zlib.crc32(blank)) + blank)
            fh.flush()
            os.fsync(fh.fileno())
        blanked += 1
    return blanked
