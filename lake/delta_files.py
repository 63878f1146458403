"""The local paths of a Delta table's current data files, exactly as they are on disk.

``DeltaTable.file_uris()`` joins the table's URI, percent-encoded (a data dir under
``/home/me/My Projects`` becomes ``My%20Projects``), with each file's path decoded from the log (a
partition directory ``k=a%20b`` stays as it is on disk). Neither unquoting the whole string nor
using it as it is gives the file's path whenever the table's folder has a space or a ``%`` in it.
So the table's own local root is joined with each file's path relative to the encoded root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse


def local_data_files(table: Any) -> list[Path] | None:
    """Paths of the current snapshot's data files of a ``deltalake.DeltaTable``; None when the
    table is not on the local file system (object storage: read it through delta-rs)."""
    root = urlparse(table.table_uri)
    if root.scheme not in ("file", ""):
        return None
    encoded_root = root.path.rstrip("/") + "/"
    local_root = Path(unquote(root.path))
    out = []
    for uri in table.file_uris():
        path = uri.removeprefix("file://")
        if "://" in path:
            return None
        if not path.startswith(encoded_root):
            return None  # absolute file outside the table (shallow clone): not ours to read
        out.append(local_root / path[len(encoded_root) :])
    return out
