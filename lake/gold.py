"""Published gold marts: immutable publications behind one atomic pointer.

dbt builds the marts as tables in its warehouse (one writer: nobody else may open that file while
it runs). After a successful run, Dagster's ``gold_publication`` asset copies every mart tagged
``gold`` into a new, immutable *publication* and flips the pointer::

    <lake>/gold/publications/<publication_id>/<model>.parquet   (zstd)
    <lake>/gold/publications/<publication_id>/manifest.json     (id, published_at, run id,
                                                                 models + row counts, bronze versions)
    <lake>/gold/CURRENT                                         the current publication's id

Readers resolve marts here (``read_mart`` / ``mart_path``), never through the warehouse and never
by a fixed file name. The pointer is replaced atomically (write a temporary file, ``os.replace``),
and a publication's files never change after it is visible, so a reader sees the old marts or the
new ones, never a mix and never a half-written file. To read several marts from the *same*
publication (cross-mart consistency), wrap the reads in ``with pinned(settings): ...``.
``prune`` removes old publications, never the current one nor any younger than ``min_age_seconds``
(a reader that resolved a publication just before the flip can still finish reading it).

Pure I/O helpers: this module imports nothing above ``lake`` except the settings type.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import polars as pl

    from core.settings import Settings

PUBLICATIONS = "publications"
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
STAGING_PREFIX = ".staging-"
COMPRESSION = "zstd"


class MartNotPublished(FileNotFoundError):
    """No publication exists yet, or the current one has no such mart; says what to run."""


@dataclass(frozen=True)
class Publication:
    """One immutable set of published marts."""

    id: str
    path: Path
    published_at: str
    run_id: str | None = None
    models: Mapping[str, int] = field(default_factory=dict)  # model -> row count
    bronze_versions: Mapping[str, int] = field(
        default_factory=dict
    )  # bronze table -> Delta version
    extra: Mapping[str, Any] = field(default_factory=dict)

    def mart_path(self, name: str) -> Path:
        if name not in self.models:
            raise MartNotPublished(
                f"mart {name!r} is not in publication {self.id} (it has: "
                f"{', '.join(sorted(self.models)) or 'nothing'}): run `pulse materialize` to "
                "build and publish it"
            )
        return self.path / f"{name}.parquet"

    def manifest(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "published_at": self.published_at,
            "dagster_run_id": self.run_id,
            "models": {name: {"rows": rows} for name, rows in sorted(self.models.items())},
            "bronze_versions": dict(self.bronze_versions),
            **({"extra": dict(self.extra)} if self.extra else {}),
        }


# The publication pinned by `pinned()` in this thread / task: (gold dir, publication).
_PINNED: contextvars.ContextVar[tuple[Path, Publication] | None] = contextvars.ContextVar(
    "pulse_gold_pinned", default=None
)


def gold_dir(settings: Settings) -> Path:
    return Path(settings.gold_dir)


def publications_dir(settings: Settings) -> Path:
    return gold_dir(settings) / PUBLICATIONS


def staging_dir(settings: Settings) -> Path:
    """A fresh private directory under gold/publications for writing a publication's files before
    ``publish`` (same filesystem: moving them in is a rename)."""
    path = publications_dir(settings) / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path


def _new_id(now: dt.datetime) -> str:
    # Sorts by time; unique even for two publications in the same microsecond.
    return f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:8]}"


def _row_count(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def publish(
    settings: Settings,
    tables: Mapping[str, pa.Table | Path | str],
    metadata: Mapping[str, Any] | None = None,
) -> Publication:
    """Write ``tables`` as a new publication and make it current; return it.

    Values are Arrow tables (written as zstd Parquet) or paths of Parquet files: a file under the
    gold directory (e.g. in a ``staging_dir``) is moved in, any other file is copied. ``metadata``
    may hold ``run_id``, ``bronze_versions`` and anything else (stored under ``extra``).
    """
    if not tables:
        raise ValueError("nothing to publish: no tables given")
    metadata = dict(metadata or {})
    root = publications_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    pub_id = _new_id(now)
    tmp = root / f"{STAGING_PREFIX}{pub_id}"
    tmp.mkdir()
    try:
        counts: dict[str, int] = {}
        gold = gold_dir(settings).resolve()
        for name, value in tables.items():
            if "/" in name or name.startswith("."):
                raise ValueError(f"invalid mart name {name!r}")
            target = tmp / f"{name}.parquet"
            if isinstance(value, pa.Table):
                pq.write_table(value, target, compression=COMPRESSION)
            else:
                source = Path(value)
                if source.resolve().is_relative_to(gold):
                    os.replace(source, target)
                else:
                    shutil.copyfile(source, target)
            counts[name] = _row_count(target)
        publication = Publication(
            id=pub_id,
            path=root / pub_id,
            published_at=now.isoformat(),
            run_id=metadata.pop("run_id", None),
            models=counts,
            bronze_versions={k: int(v) for k, v in metadata.pop("bronze_versions", {}).items()},
            extra=metadata,
        )
        _write_atomic(tmp / MANIFEST, json.dumps(publication.manifest(), indent=2))
        os.replace(tmp, publication.path)  # the directory appears complete, or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_atomic(gold_dir(settings) / CURRENT, pub_id + "\n")
    return publication


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load(settings: Settings, publication_id: str) -> Publication:
    """The publication ``publication_id`` from its manifest."""
    path = publications_dir(settings) / publication_id
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise MartNotPublished(
            f"publication {publication_id} does not exist under {path.parent} (pruned?): "
            "run `pulse materialize`"
        ) from None
    return Publication(
        id=manifest["id"],
        path=path,
        published_at=manifest["published_at"],
        run_id=manifest.get("dagster_run_id"),
        models={k: int(v["rows"]) for k, v in manifest.get("models", {}).items()},
        bronze_versions=manifest.get("bronze_versions", {}),
        extra=manifest.get("extra", {}),
    )


def current_id(settings: Settings) -> str | None:
    try:
        return (gold_dir(settings) / CURRENT).read_text().strip() or None
    except FileNotFoundError:
        return None


def current(settings: Settings) -> Publication:
    """The publication readers see now (or the one pinned by ``pinned``)."""
    pinned_pub = _pinned_for(settings)
    if pinned_pub is not None:
        return pinned_pub
    pub_id = current_id(settings)
    if pub_id is None:
        raise MartNotPublished(
            f"no published marts yet: run pulse materialize (no {gold_dir(settings) / CURRENT})"
        )
    return load(settings, pub_id)


def _pinned_for(settings: Settings) -> Publication | None:
    pinned_value = _PINNED.get()
    if pinned_value is not None and pinned_value[0] == gold_dir(settings):
        return pinned_value[1]
    return None


@contextlib.contextmanager
def pinned(settings: Settings) -> Iterator[Publication]:
    """Within the block, every ``current``/``mart_path``/``read_mart`` of these settings resolves
    to one publication (the current one when the block starts), even if a new one is published
    meanwhile. Per thread/task (a context variable)."""
    token = _PINNED.set((gold_dir(settings), current(settings)))
    try:
        yield _PINNED.get()[1]  # type: ignore[index]
    finally:
        _PINNED.reset(token)


def mart_path(settings: Settings, name: str, publication: Publication | None = None) -> Path:
    """Path of mart ``name`` in ``publication`` (default: the pinned or current one)."""
    return (publication or current(settings)).mart_path(name)


def read_mart(settings: Settings, name: str) -> pl.DataFrame:
    """Mart ``name`` of the pinned or current publication as a polars DataFrame."""
    import polars as pl

    return pl.read_parquet(mart_path(settings, name))


def list_publications(settings: Settings) -> list[str]:
    """Ids of complete publications, oldest first."""
    root = publications_dir(settings)
    if not root.exists():
        return []
    return sorted(
        p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(STAGING_PREFIX)
    )


def prune(settings: Settings, keep: int = 3, min_age_seconds: float = 600) -> list[str]:
    """Delete publications beyond the newest ``keep`` that are older than ``min_age_seconds``;
    never the current one. Also removes abandoned staging directories older than that. Returns
    the deleted publication ids."""
    root = publications_dir(settings)
    if not root.exists():
        return []
    now = time.time()
    current_pub = current_id(settings)
    ids = list_publications(settings)
    deleted = []
    for pub_id in ids[: max(len(ids) - keep, 0)]:
        path = root / pub_id
        if pub_id == current_pub or now - path.stat().st_mtime < min_age_seconds:
            continue
        shutil.rmtree(path, ignore_errors=True)
        deleted.append(pub_id)
    for path in root.glob(f"{STAGING_PREFIX}*"):
        if now - path.stat().st_mtime >= max(min_age_seconds, 3600):
            shutil.rmtree(path, ignore_errors=True)
    return deleted
