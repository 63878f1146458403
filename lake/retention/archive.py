"""Archiving: where expired rows are written before they are deleted (a local folder or an
object-store URI), one zstd Parquet file per partition and policy, in the table's own types."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa


class ArchiveStore:
    """Where archived partitions go: a local folder or an object-store URI (pyarrow filesystems)."""

    def __init__(self, location: str) -> None:
        import pyarrow.fs as pafs

        if "://" in location and not location.startswith("file://"):
            self.fs, self.root = pafs.FileSystem.from_uri(location)
        else:
            self.fs = pafs.LocalFileSystem()
            self.root = str(Path(location.removeprefix("file://")).resolve())
        self.location = location

    def partition_dir(self, table: str, column: str, day: dt.date) -> str:
        return f"{self.root.rstrip('/')}/{table}/{column}={day.isoformat()}"

    def write(self, directory: str, name: str, batches: Any, schema: pa.Schema) -> tuple[str, int]:
        """Write ``batches`` as one zstd Parquet file (temporary name, then moved into place)."""
        import pyarrow.parquet as pq

        self.fs.create_dir(directory, recursive=True)
        final = f"{directory}/{name}"
        temporary = f"{directory}/_tmp-{uuid.uuid4().hex}-{name}"  # readers glob part-*.parquet
        rows = 0
        try:
            with pq.ParquetWriter(temporary, schema, filesystem=self.fs, compression="zstd") as out:
                for batch in batches:
                    if batch.num_rows:
                        out.write_batch(batch.cast(schema))
                        rows += batch.num_rows
            self.fs.move(temporary, final)
        except BaseException:
            self.remove(temporary)  # no half-written file left behind
            raise
        return final, rows

    def remove(self, path: str) -> None:
        import pyarrow.fs as pafs

        if self.fs.get_file_info(path).type != pafs.FileType.NotFound:
            self.fs.delete_file(path)


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """string_view (files rewritten by delete) → string, so archives have the table's types."""
    fields = []
    for f in schema:
        if pa.types.is_string_view(f.type):
            f = f.with_type(pa.string())
        elif pa.types.is_binary_view(f.type):
            f = f.with_type(pa.binary())
        fields.append(f)
    return pa.schema(fields)
