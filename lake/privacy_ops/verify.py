"""Proof of erasure: scan every file under the data dir for any of the subject's identifiers.

Compressed and encoded formats are decoded before scanning, because a raw byte search would miss
what they hold: Parquet (data files, Delta checkpoints, gold publications, archives: zstd or
snappy pages) is read column by column, string leaves of nested columns included; dbt's DuckDB
warehouse is opened read-only and every text column queried. Every file is *also* searched as raw
bytes (Parquet statistics, Delta's JSON log, the WAL, SQLite stores, reports and logs).

Findings name the file and the *kind* of identifier (user id, linked id #n, token #n), never the
identifier itself, so a verification report can be kept and shown.

The simulator's folder (``<data>/sim``: the fake app's own source data) and the privacy audit
table (keyed hashes only) are outside the scan: see docs/privacy.md.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.settings import Settings
from lake.sql import qualified, quote_ident

PARQUET_MAGIC = b"PAR1"
SQLITE_MAGIC = b"SQLite format 3\x00"
DUCKDB_MAGIC = b"DUCK"  # at byte 8 of a .duckdb file


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the data dir
    what: str  # "user id", "linked id #1", "token #2", or "unreadable: ..."


def needle_kinds(needles: Sequence[str], n_ids: int) -> dict[str, str]:
    kinds = {}
    for i, needle in enumerate(needles):
        if i == 0:
            kinds[needle] = "user id"
        elif i < n_ids:
            kinds[needle] = f"linked id #{i}"
        else:
            kinds[needle] = f"token #{i - n_ids + 1}"
    return kinds


def log_hits(data: bytes, needles: Sequence[str]) -> list[str]:
    return [n for n in needles if n.encode() in data]


def _string_leaves(array: pa.ChunkedArray | pa.Array) -> Iterator[pa.Array]:
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        t = chunk.type
        if pa.types.is_dictionary(t):
            yield from _string_leaves(chunk.dictionary)
        elif pa.types.is_struct(t):
            for i in range(t.num_fields):
                yield from _string_leaves(chunk.field(i))
        elif pa.types.is_map(t):
            yield from _string_leaves(chunk.keys)
            yield from _string_leaves(chunk.items)
        elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            yield from _string_leaves(chunk.flatten())
        elif pa.types.is_string_view(t):
            yield chunk.cast(pa.string())
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            yield chunk
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            yield chunk.cast(pa.large_binary())


def _may_hold_text(t: pa.DataType) -> bool:
    return not (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_temporal(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
    )


def _regex(needles: Sequence[str]) -> str:
    return "|".join(re.escape(n) for n in needles)


def parquet_hits(path: Path, needles: Sequence[str]) -> list[str]:
    """Needles found in the decoded string values of a Parquet file."""
    # Only columns that can hold text: decoding timestamps and numbers would prove nothing.
    schema = pq.read_schema(path)
    wanted = [f.name for f in schema if _may_hold_text(f.type)]
    if not wanted:
        return []
    table = pq.read_table(path, columns=wanted)
    pattern = _regex(needles)
    found: list[str] = []
    for column in table.columns:
        for leaf in _string_leaves(column):
            if pa.types.is_large_binary(leaf.type):
                values = [v for v in leaf.to_pylist() if v]
                found.extend(n for n in needles if any(n.encode() in v for v in values))
                continue
            if len(leaf) and pc.any(pc.match_substring_regex(leaf, pattern)).as_py():
                for needle in needles:
                    if pc.any(pc.match_substring(leaf, needle)).as_py():
                        found.append(needle)
    return sorted(set(found), key=needles.index)


def duckdb_hits(path: Path, needles: Sequence[str]) -> list[str]:
    """Needles found in any text column of any table of a DuckDB database (opened read-only;
    raises ``duckdb.IOException`` if a writer holds it)."""
    import duckdb

    found: set[str] = set()
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' and table_catalog = current_database() and "
            "(table_schema, table_name) in (select table_schema, table_name from "
            "information_schema.tables where table_type = 'BASE TABLE')"
        ).fetchall()
        for schema, table, column in columns:
            for needle in needles:
                if needle in found:
                    continue
                hit = con.execute(
                    f"select count(*) from (select 1 from {qualified(schema, table)} "
                    f"where strpos({quote_ident(column)}, ?) > 0 limit 1)",
                    [needle],
                ).fetchall()[0][0]
                if hit:
                    found.add(needle)
    return [n for n in needles if n in found]


def file_hits(path: Path, needles: Sequence[str], *, decode_duckdb: bool = True) -> list[str]:
    """Needles found in one file: raw bytes, plus decoded content for Parquet/DuckDB/gzip."""
    with path.open("rb") as fh:
        data = fh.read()
    found = set(log_hits(data, needles))
    if data[:4] == PARQUET_MAGIC and data[-4:] == PARQUET_MAGIC:
        found.update(parquet_hits(path, needles))
    elif data[8:12] == DUCKDB_MAGIC and decode_duckdb:
        found.update(duckdb_hits(path, needles))
    elif data[:2] == b"\x1f\x8b":
        found.update(log_hits(gzip.decompress(data), needles))
    return [n for n in needles if n in found]


def iter_files(settings: Settings) -> Iterator[Path]:
    """Every file under the data dir that verification covers."""
    from lake.audit import audit_path

    skip = {settings.sim_dir.resolve(), audit_path(settings).resolve()}
    for dirpath, dirnames, files in os.walk(settings.data_dir):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if (here / d).resolve() not in skip)
        for name in sorted(files):
            yield here / name


def scan(settings: Settings, needles: Sequence[str], n_ids: int, threads: int = 4) -> list[Finding]:
    """Every (file, identifier kind) still found under the data dir."""
    kinds = needle_kinds(needles, n_ids)
    files = [p for p in iter_files(settings) if p.is_file()]

    def one(path: Path) -> list[Finding]:
        rel = path.relative_to(settings.data_dir).as_posix()
        try:
            return [Finding(rel, kinds[n]) for n in file_hits(path, needles)]
        except FileNotFoundError:
            return []  # removed meanwhile (a collector truncating its WAL)
        except Exception as exc:  # a file we cannot read cannot be proven clean
            return [Finding(rel, f"unreadable: {type(exc).__name__}: {str(exc)[:200]}")]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [f for result in pool.map(one, files) for f in result]
