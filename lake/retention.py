"""Retention and archival: how long each table's data is kept, and the engine that enforces it.

Policies live in a YAML file (``lake/retention.yaml`` by default, ``PULSE_RETENTION_POLICY_FILE``
to use another). Each names a Delta table (``bronze/events``) or a whole layer (``gold/*``), how
long its data is kept (``400d``, ``12w``, ``1y`` or ``forever``), optionally a row filter
(``where: {event: API Request}``: API telemetry lives inside ``bronze/events``) and whether
expired data is archived first. A policy may also name a folder of plain files under the data dir
(``files: logs``), whose files are deleted by age. :func:`load_policies` validates the file, first
its form (pydantic) and then against the lake (tables, columns, folders), and raises one
:class:`RetentionPolicyError` listing every problem with what to do about it.

:func:`enforce` applies the policies at an injectable ``now``. A table's date partition is expired
when its date is before ``now - keep``. For each expired partition (and policy), in this order:

1. read the partition's rows (those matching ``where``) from one snapshot of the table;
2. archive them, if the policy says so, as one zstd Parquet file
   ``<archive>/<layer>/<table>/<partition_col>=<value>/part-<run>-<policy>.parquet``;
3. delete exactly those rows with a Delta ``delete`` committed against *that same snapshot*: an
   append that landed in the partition meanwhile makes the commit fail instead of deleting rows
   that were not archived, so the step is retried from 1 after a back-off (appends to other
   partitions do not conflict);
4. append ``retention_archive`` / ``retention_delete`` entries to the privacy audit log.

Then every table that lost rows is vacuumed at once (retention 0, "lite" mode: only files the log
has removed, never a file a concurrent writer has not committed yet), so no retained version still
holds expired rows. Each run's actions land in the Delta table ``system/retention_runs``.
With ``dry_run=True`` nothing is written anywhere: the report says what would happen.

The collector's WAL needs no policy: the flusher deletes segments as soon as they are in Delta.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.settings import Settings
from lake.sql import column_list, literal_list, qualified, quote_ident, quote_literal
from lake.tables import BRONZE_TABLES

log = logging.getLogger(__name__)

DEFAULT_POLICY_FILE = Path(__file__).with_name("retention.yaml")
RUNS_TABLE = ("system", "retention_runs")
# Tables retention must never delete from: the audit trail and its own history.
PROTECTED_TABLES = {
    "system/privacy_audit": "it is the append-only privacy audit log",
    "system/retention_runs": "it is the history of retention runs",
}
# Folders under the data dir whose files are Pulse state managed elsewhere: no file policy there.
MANAGED_FOLDERS = {
    "lake": "it holds the Delta tables: name a table (table: bronze/events) instead",
    "wal": "the collector's flusher deletes WAL segments as soon as they are in Delta; deleting "
    "an unflushed segment would lose acknowledged events",
    "archive": "it is the retention archive itself",
    "dagster_home": "it is Dagster's instance storage",
    "warehouse": "it is dbt's working database",
}
# Layers whose tables are not Delta tables with date partitions: only `keep: forever` fits.
KEEP_ONLY_LAYERS = {
    "gold": "gold holds the published marts (aggregates), pruned by the publication itself",
}

_DURATION = re.compile(
    r"^\s*(?P<sign>-)?\s*(?P<n>\d+)\s*(?P<unit>d|days?|w|weeks?|y|years?)\s*$", re.I
)
_UNIT_DAYS = {"d": 1, "w": 7, "y": 365}
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*/([a-z][a-z0-9_]*|\*)$")


class RetentionPolicyError(ValueError):
    """The retention policy file cannot be used; the message lists each problem and the fix."""


# ---- policy model ------------------------------------------------------------------------------


def parse_keep(value: Any) -> int | None:
    """Days a policy keeps data (None = forever) from ``400``, ``"400d"``, ``"12w"``, ``"1y"``..."""
    if isinstance(value, bool):
        raise ValueError(f"keep must be a duration like 400d, 12w, 1y or forever, not {value!r}")
    if isinstance(value, int):
        days = value
    elif isinstance(value, str) and value.strip().lower() in {"forever", "kept", "always"}:
        return None
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        days = int(m["n"]) * _UNIT_DAYS[m["unit"][0].lower()]
        if m["sign"]:
            days = -days
    else:
        raise ValueError(
            f"keep {value!r} is not a duration: write a number of days (400), or 400d, 12w, 1y, "
            "or forever"
        )
    if days < 1:
        raise ValueError(
            f"keep must be at least 1 day (got {days} days): a negative or zero retention would "
            "delete today's data; use e.g. 30d"
        )
    return days


class RetentionPolicy(BaseModel):
    """One rule: keep ``table``'s (or a folder's) data for ``keep`` days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="snake_case identifier")
    description: str = ""
    table: str | None = Field(default=None, description="<layer>/<table> or <layer>/*")
    files: str | None = Field(default=None, description="folder under the data dir, e.g. logs")
    pattern: str = Field(default="*", description="file name glob of a files policy")
    keep_days: int | None = Field(alias="keep", description="days kept; None = forever")
    where: dict[str, list[str]] | None = Field(
        default=None, description="row filter: column -> allowed values (string columns)"
    )
    archive: bool = False

    @field_validator("keep_days", mode="before")
    @classmethod
    def _keep(cls, value: Any) -> int | None:
        return parse_keep(value)

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None and not _TABLE_NAME.match(value):
            raise ValueError(
                f"table {value!r} must be <layer>/<table> (e.g. bronze/events) or <layer>/* "
                "for every table of a layer"
            )
        return value

    @field_validator("where", mode="before")
    @classmethod
    def _where(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            raise ValueError("where must map column names to a value or a list of values")
        out = {}
        for column, allowed in value.items():
            values = allowed if isinstance(allowed, list) else [allowed]
            if not values or not all(isinstance(v, str) for v in values):
                raise ValueError(
                    f"where.{column} must be a string or a list of strings (got {allowed!r})"
                )
            out[column] = values
        return out

    @model_validator(mode="after")
    def _shape(self) -> RetentionPolicy:
        if (self.table is None) == (self.files is None):
            raise ValueError("give exactly one of table: (a Delta table) or files: (a folder)")
        if self.files is not None and (self.where or self.archive):
            raise ValueError("where: and archive: apply to tables only, not to files: policies")
        if self.files is not None and self.keep_days is None:
            raise ValueError("a files: policy with keep: forever does nothing; remove it")
        if self.table and self.table.endswith("/*") and self.where:
            raise ValueError("where: needs one table, not a whole layer")
        return self

    @property
    def layer(self) -> str | None:
        return self.table.split("/", 1)[0] if self.table else None


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    policies: list[RetentionPolicy]

    @model_validator(mode="after")
    def _unique(self) -> PolicyFile:
        seen: set[str] = set()
        whole: dict[str, str] = {}
        for p in self.policies:
            if p.name in seen:
                raise ValueError(f"two policies are named {p.name!r}: names must be unique")
            seen.add(p.name)
            key = p.table or f"files:{p.files}:{p.pattern}"
            if not p.where:
                if key in whole:
                    raise ValueError(
                        f"policies {whole[key]!r} and {p.name!r} both cover all of {key}: "
                        "keep one (a second policy on a table needs a where: filter)"
                    )
                whole[key] = p.name
        return self


def _format_errors(source: str, exc: ValidationError, raw: Any) -> str:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "policies" and isinstance(loc[1], int):
            try:
                name = raw["policies"][loc[1]].get("name")
            except (KeyError, IndexError, TypeError, AttributeError):
                name = None
            rest = ".".join(str(p) for p in loc[2:])
            where = f"policy {name or '#' + str(loc[1] + 1)}" + (f", {rest}" if rest else "")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key: remove it or fix its spelling (keys: name, description, table, "
            msg += "files, pattern, keep, where, archive)"
        if err["type"] == "missing":
            msg = f"missing {loc[-1]!r}: every policy needs a name, a table or files, and keep"
        lines.append(f"  - {where}: {msg}")
    return f"invalid retention policy file {source}:\n" + "\n".join(lines)


def parse_policies(text: str, source: str = "<text>") -> list[RetentionPolicy]:
    """The policies of a YAML text, checked for form only (see :func:`validate_against_lake`)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RetentionPolicyError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or "policies" not in raw:
        raise RetentionPolicyError(
            f"{source} must be a mapping with a `policies:` list (see lake/retention.yaml)"
        )
    try:
        return PolicyFile.model_validate(raw).policies
    except ValidationError as exc:
        raise RetentionPolicyError(_format_errors(source, exc, raw)) from None


def policy_file(settings: Settings) -> Path:
    return settings.retention_policy_file or DEFAULT_POLICY_FILE


def load_policies(settings: Settings, path: Path | None = None) -> list[RetentionPolicy]:
    """Read, parse and validate the policy file (default: the one the settings point at)."""
    path = Path(path or policy_file(settings))
    if not path.is_file():
        raise RetentionPolicyError(
            f"retention policy file {path} does not exist: create it (see lake/retention.yaml) "
            "or point PULSE_RETENTION_POLICY_FILE at an existing file"
        )
    policies = parse_policies(path.read_text(), str(path))
    validate_against_lake(policies, settings, source=str(path))
    return policies


# ---- the lake's tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class TableInfo:
    name: str  # <layer>/<table>
    path: Path
    schema: pa.Schema | None  # None: not created yet and not registered
    date_column: str | None  # the date partition column


def _registered_tables(settings: Settings) -> dict[str, TableInfo]:
    return {
        f"bronze/{name}": TableInfo(
            f"bronze/{name}",
            settings.table_path("bronze", name),
            schema,
            partition_by[0] if partition_by else None,
        )
        for name, (schema, partition_by) in BRONZE_TABLES.items()
    }


def _date_partition(schema: pa.Schema, partition_columns: Sequence[str]) -> str | None:
    for column in partition_columns:
        if column in schema.names and pa.types.is_date(schema.field(column).type):
            return column
    return None


def _on_disk(settings: Settings, name: str) -> TableInfo | None:
    from deltalake import DeltaTable

    layer, table = name.split("/", 1)
    path = settings.table_path(layer, table)
    if not DeltaTable.is_deltatable(str(path)):
        return None
    delta = DeltaTable(str(path))
    schema = pa.schema(delta.schema().to_arrow())
    return TableInfo(
        name, path, schema, _date_partition(schema, delta.metadata().partition_columns)
    )


def known_tables(settings: Settings) -> dict[str, TableInfo]:
    """Pulse's registered bronze tables plus every Delta table found under the lake."""
    tables = _registered_tables(settings)
    if settings.lake_dir.is_dir():
        for log_dir in sorted(settings.lake_dir.glob("*/*/_delta_log")):
            name = f"{log_dir.parent.parent.name}/{log_dir.parent.name}"
            info = _on_disk(settings, name)
            if info is not None:
                tables[name] = info
    return tables


def tables_of(policy: RetentionPolicy, tables: dict[str, TableInfo]) -> list[TableInfo]:
    assert policy.table is not None
    if policy.table.endswith("/*"):
        prefix = policy.table[:-1]
        return [
            t
            for n, t in sorted(tables.items())
            if n.startswith(prefix) and n not in PROTECTED_TABLES
        ]
    return [tables[policy.table]] if policy.table in tables else []


def validate_against_lake(
    policies: Sequence[RetentionPolicy], settings: Settings, source: str = "the policy file"
) -> None:
    """Check that every table, column and folder a policy names exists and may be retained."""
    problems: list[str] = []
    tables = known_tables(settings)
    for p in policies:
        if p.table is not None:
            layer = p.layer or ""
            if p.table in PROTECTED_TABLES:
                problems.append(
                    f"policy {p.name}: {p.table} cannot have a retention policy: "
                    f"{PROTECTED_TABLES[p.table]}; remove the policy"
                )
                continue
            if layer in KEEP_ONLY_LAYERS:
                if p.keep_days is not None:
                    problems.append(
                        f"policy {p.name}: {KEEP_ONLY_LAYERS[layer]}; only `keep: forever` "
                        f"fits {p.table}"
                    )
                continue
            if p.table.endswith("/*"):
                if not (settings.lake_dir / layer).is_dir() and layer != "bronze":
                    problems.append(
                        f"policy {p.name}: the lake has no layer {layer!r} "
                        f"({settings.lake_dir / layer} does not exist); check the spelling"
                    )
                continue
            info = tables.get(p.table)
            if info is None:
                known = ", ".join(sorted(set(tables) - set(PROTECTED_TABLES))) or "none yet"
                problems.append(
                    f"policy {p.name}: unknown table {p.table!r} (no Delta table at "
                    f"{settings.table_path(*p.table.split('/', 1))}); known tables: {known}"
                )
                continue
            if info.schema is not None and p.keep_days is not None and info.date_column is None:
                problems.append(
                    f"policy {p.name}: {p.table} has no date partition column, and retention "
                    "removes whole days; use keep: forever for it"
                )
            for column in p.where or {}:
                if info.schema is None:
                    continue
                if column not in info.schema.names:
                    problems.append(
                        f"policy {p.name}: where: {p.table} has no column {column!r} "
                        f"(columns: {', '.join(info.schema.names)})"
                    )
                elif not pa.types.is_string(info.schema.field(column).type) and not (
                    pa.types.is_large_string(info.schema.field(column).type)
                ):
                    problems.append(
                        f"policy {p.name}: where: column {column!r} of {p.table} is not a "
                        "string column; filter on a string column (e.g. event)"
                    )
                elif column == info.date_column:
                    problems.append(
                        f"policy {p.name}: where: {column!r} is the date partition; keep: "
                        "already decides which days expire"
                    )
        else:
            folder = _files_folder(p, settings)
            if isinstance(folder, str):
                problems.append(f"policy {p.name}: {folder}")
    if problems:
        raise RetentionPolicyError(
            f"invalid retention policy file {source}:\n" + "\n".join(f"  - {x}" for x in problems)
        )


def _files_folder(p: RetentionPolicy, settings: Settings) -> Path | str:
    """The folder of a files: policy, or the problem with it as a message."""
    assert p.files is not None
    relative = Path(p.files)
    if relative.is_absolute() or ".." in relative.parts:
        return f"files: {p.files!r} must be a folder relative to the data dir (e.g. logs)"
    top = relative.parts[0] if relative.parts else ""
    if top in MANAGED_FOLDERS or not relative.parts:
        return f"files: {p.files!r} cannot be retained by age: {MANAGED_FOLDERS.get(top, 'empty')}"
    folder = settings.data_dir / relative
    if not folder.is_dir():
        return (
            f"files: folder {folder} does not exist; create it or remove the policy "
            "(paths are relative to PULSE_DATA_DIR)"
        )
    return folder


# ---- enforcement -------------------------------------------------------------------------------


@dataclass
class RetentionAction:
    """What one policy did (or would do) to one partition of one table, or to one file."""

    policy: str
    table: str  # <layer>/<table>, or files:<folder>
    partition: str  # <column>=<date>, or the file's name
    filter: str | None = None  # the where: predicate, if any
    rows_archived: int = 0
    rows_deleted: int = 0
    bytes_freed: int = 0  # dry run: estimated from the partition's file sizes
    archive_path: str | None = None
    status: str = "deleted"  # deleted | would_delete | failed
    conflicts_retried: int = 0
    error: str | None = None


@dataclass
class RetentionReport:
    run_id: str
    started_at: dt.datetime
    now: dt.datetime
    dry_run: bool
    policy_file: str
    actions: list[RetentionAction] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # per table: vacuum, skips

    @property
    def rows_deleted(self) -> int:
        return sum(a.rows_deleted for a in self.actions)

    @property
    def rows_archived(self) -> int:
        return sum(a.rows_archived for a in self.actions)

    @property
    def bytes_freed(self) -> int:
        return sum(a.bytes_freed for a in self.actions)

    @property
    def failed(self) -> list[RetentionAction]:
        return [a for a in self.actions if a.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "policy_file": self.policy_file,
            "rows_archived": self.rows_archived,
            "rows_deleted": self.rows_deleted,
            "bytes_freed": self.bytes_freed,
            "actions": [asdict(a) for a in self.actions],
            "tables": self.tables,
        }


def _as_utc(now: dt.datetime | dt.date | None) -> dt.datetime:
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


def _query(snapshot: Any, sql: str) -> pa.RecordBatchReader:
    """Run SQL over one Delta snapshot (registered as ``t``); DataFusion prunes the partitions,
    which building a pyarrow dataset of every file of a long table does not (seconds vs ms)."""
    from deltalake import QueryBuilder

    return pa.RecordBatchReader.from_stream(QueryBuilder().register("t", snapshot).execute(sql))


def _count(snapshot: Any, predicate: str) -> int:
    return int(
        _query(snapshot, f"select count(*) from t where {predicate}").read_all()[0][0].as_py()
    )


@dataclass
class _Partition:
    files: dict[str, int] = field(default_factory=dict)  # path -> size in bytes
    rows: int = 0


def _partitions(delta: Any, date_column: str) -> dict[dt.date, _Partition]:
    """date -> its files, sizes and row count, from the table's add actions (the log, no data)."""
    actions = pa.table(delta.get_add_actions(flatten=True))
    column = f"partition.{date_column}"
    out: dict[dt.date, _Partition] = {}
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
        part = out.setdefault(day, _Partition())
        part.files[path] = size
        part.rows += (rows[i] or 0) if rows else 0
    return out


def _matching_days(
    delta: Any, date_column: str, cutoff: dt.date, where: dict[str, list[str]]
) -> dict[dt.date, int]:
    """Expired days that still hold rows matching ``where``, with their counts: one query over
    the expired range instead of one per day (most were emptied by earlier runs)."""
    column = quote_ident(date_column)
    sql = (
        f"select {column}, count(*) from t where {column} < "
        f"DATE {quote_literal(cutoff.isoformat())} and {where_predicate(where)} group by 1"
    )
    result = _query(delta, sql).read_all()
    return dict(zip(result.column(0).to_pylist(), result.column(1).to_pylist(), strict=True))


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


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    """string_view (files rewritten by delete) → string, so archives have the table's types."""
    fields = []
    for f in schema:
        if pa.types.is_string_view(f.type):
            f = f.with_type(pa.string())
        elif pa.types.is_binary_view(f.type):
            f = f.with_type(pa.binary())
        fields.append(f)
    return pa.schema(fields)


def _is_conflict(exc: Exception) -> bool:
    from deltalake.exceptions import CommitFailedError

    text = str(exc).lower()
    return isinstance(exc, CommitFailedError) or "concurrent" in text or "conflict" in text


@dataclass
class _Context:
    settings: Settings
    report: RetentionReport
    store: ArchiveStore | None
    actor: str
    max_conflict_retries: int
    sleep: Callable[[float], None]
    # (table, day) a whole-partition policy removes in this run: row-filtered policies skip them
    # (in a dry run those rows are still there and would be counted twice).
    whole_days: set[tuple[str, dt.date]] = field(default_factory=set)
    # warehouse copy -> the latest cutoff of a whole-day policy applied to it in this run
    warehouse_cutoffs: dict[str, dt.date] = field(default_factory=dict)


def _enforce_partition(
    ctx: _Context,
    policy: RetentionPolicy,
    info: TableInfo,
    snapshot: Any,
    day: dt.date,
    matched: int | None,
) -> RetentionAction | None:
    """Archive (if asked) then delete one expired partition's rows; None if nothing matched.

    ``snapshot`` is the table's DeltaTable, brought up to date before each attempt; ``matched``
    the planned count of rows of a filtered policy (None: the whole day)."""
    from deltalake import CommitProperties

    from lake.audit import AuditEntry, record

    assert info.date_column is not None
    column = info.date_column
    action = RetentionAction(
        policy=policy.name,
        table=info.name,
        partition=f"{column}={day.isoformat()}",
        filter=where_predicate(policy.where),
    )
    predicate = delete_predicate(column, day, policy.where)
    for attempt in range(ctx.max_conflict_retries + 1):
        snapshot.update_incremental()  # latest version; the delete commits against it
        partition = _partitions(snapshot, column).get(day)
        if partition is None:
            return None
        files = partition.files
        if ctx.report.dry_run:
            count = partition.rows if matched is None else matched
            if not count:
                return None
            action.rows_deleted = count
            action.rows_archived = count if policy.archive else 0
            action.bytes_freed = int(sum(files.values()) * count / max(partition.rows, count, 1))
            action.status = "would_delete"
            if policy.archive and ctx.store is not None:
                directory = ctx.store.partition_dir(info.name, column, day)
                action.archive_path = f"{directory}/part-{ctx.report.run_id}-{policy.name}.parquet"
            return action
        if attempt and policy.where and not _count(snapshot, predicate):
            return None  # a retry found the rows gone (another run removed them)
        archived: str | None = None
        archived_at: dt.datetime | None = None
        try:
            if policy.archive and ctx.store is not None:
                # The archive holds exactly what the delete below removes: same snapshot, same
                # predicate, every column in the table's order and types.
                schema = _plain_schema(pa.schema(snapshot.schema().to_arrow()))
                columns = column_list(schema.names)
                directory = ctx.store.partition_dir(info.name, column, day)
                name = f"part-{ctx.report.run_id}-{policy.name}.parquet"
                archived, rows = ctx.store.write(
                    directory,
                    name,
                    _query(snapshot, f"select {columns} from t where {predicate}"),
                    schema,
                )
                action.rows_archived = rows
                archived_at = dt.datetime.now(dt.UTC)
            metrics = snapshot.delete(
                predicate, commit_properties=CommitProperties(max_commit_retries=20)
            )
        except Exception as exc:
            if archived is not None and ctx.store is not None:
                ctx.store.remove(archived)  # its rows are still in the table: no double archive
            action.rows_archived = 0
            if _is_conflict(exc) and attempt < ctx.max_conflict_retries:
                action.conflicts_retried += 1
                log.info("retention %s %s: conflict, retrying (%s)", info.name, day, exc)
                ctx.sleep(min(0.2 * 2**attempt, 5.0))
                continue
            raise
        deleted_at = dt.datetime.now(dt.UTC)
        deleted = int(metrics.get("num_deleted_rows", 0))
        if not deleted and not action.rows_archived:
            if archived is not None and ctx.store is not None:
                ctx.store.remove(archived)
            return None  # the planned rows were already gone
        if archived is not None and deleted != action.rows_archived:
            # Cannot happen against one snapshot; if it does, say so rather than lose rows.
            raise RuntimeError(
                f"{info.name} {action.partition}: archived {action.rows_archived} rows but the "
                f"delete removed {deleted}; the archive {archived} is kept, check it"
            )
        action.rows_deleted = deleted
        action.archive_path = archived
        # The table object is now at the delete's version: the partition's files before and
        # after differ by exactly what the delete removed and rewrote.
        after = _partitions(snapshot, column).get(day)
        kept = after.files if after else {}
        removed = sum(size for path, size in files.items() if path not in kept)
        added = sum(size for path, size in kept.items() if path not in files)
        action.bytes_freed = max(removed - added, 0)
        details = {
            "policy": policy.name,
            "run_id": ctx.report.run_id,
            "as_of": ctx.report.now.isoformat(),
            "filter": action.filter,
            "bytes_freed": action.bytes_freed,
        }
        target = f"{info.name}/{action.partition}"
        entries = []
        if archived is not None:
            entries.append(
                AuditEntry(
                    "retention_archive",
                    actor=ctx.actor,
                    target=target,
                    rows=action.rows_archived,
                    details={**details, "archive_path": archived},
                    at=archived_at,
                )
            )
        entries.append(
            AuditEntry(
                "retention_delete",
                actor=ctx.actor,
                target=target,
                rows=deleted,
                details=details,
                at=deleted_at,
            )
        )
        record(ctx.settings, entries)
        return action
    return None  # unreachable: the last attempt returns or raises


# Warehouse tables that keep a copy of a bronze table's rows (dbt's incremental staging holds the
# raw payloads), with the date column and the names there of the bronze columns a policy's `where`
# may filter on. A policy on the bronze table applies to its copy too: otherwise raw events would
# outlive their retention in the warehouse.
WAREHOUSE_COPIES: dict[str, tuple[str, str, dict[str, str]]] = {
    "bronze/events": (
        "stg_events",
        "event_date",
        {"event": "event_name", "type": "event_type", "source_id": "source_id"},
    ),
}


def _enforce_warehouse_copy(
    ctx: _Context, policy: RetentionPolicy, table_name: str, cutoff: dt.date
) -> RetentionAction | None:
    """Delete the warehouse copy's rows dated before ``cutoff`` (and matching the policy's
    ``where``): by cutoff, not by the days removed from bronze in this run, so a run that found the
    warehouse busy is caught up by the next one. None when there is nothing to remove."""
    import duckdb

    from lake.audit import AuditEntry, record

    copy = WAREHOUSE_COPIES.get(table_name)
    path = ctx.settings.warehouse_path
    if copy is None or not path.exists():
        return None
    table, date_column, renames = copy
    unknown = sorted(set(policy.where or {}) - set(renames))
    action = RetentionAction(
        policy=policy.name,
        table=f"warehouse/{table}",
        partition=f"{date_column}<{cutoff.isoformat()}",
        filter=where_predicate(policy.where),
    )
    if unknown:
        action.status = "failed"
        action.error = (
            f"the warehouse copy {table} has no column for where: {unknown}; filter on "
            f"{sorted(renames)} or extend lake.retention.WAREHOUSE_COPIES"
        )
        return action
    where = where_predicate({renames[k]: v for k, v in (policy.where or {}).items()})
    predicate = f"{quote_ident(date_column)} < DATE {quote_literal(cutoff.isoformat())}"
    if where:
        predicate += f" AND {where}"
        # rows a whole-day policy of this run removes (in a dry run: would remove) count there
        whole = ctx.warehouse_cutoffs.get(table)
        if whole is not None:
            predicate += (
                f" AND {quote_ident(date_column)} >= DATE {quote_literal(whole.isoformat())}"
            )
    else:
        ctx.warehouse_cutoffs[table] = max(cutoff, ctx.warehouse_cutoffs.get(table, cutoff))
    try:
        con = duckdb.connect(str(path), read_only=ctx.report.dry_run)
    except duckdb.IOException as exc:
        action.status = "failed"
        action.error = (
            f"the warehouse {path} is in use by another process (a dbt run?); its copy is "
            f"pruned by the next retention run ({exc})"
        )
        return action
    with con:
        found = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name = ?",
            [table],
        ).fetchall()[0][0]
        if not found:
            return None
        count = con.execute(
            f"select count(*) from {qualified('main', table)} where {predicate}"
        ).fetchall()[0][0]
        if not count:
            return None
        action.rows_deleted = count
        if ctx.report.dry_run:
            action.status = "would_delete"
            return action
        con.execute(f"delete from {qualified('main', table)} where {predicate}")
        con.execute("checkpoint")
    record(
        ctx.settings,
        [
            AuditEntry(
                "retention_delete",
                actor=ctx.actor,
                target=f"warehouse/{table}/{action.partition}",
                rows=count,
                details={
                    "policy": policy.name,
                    "run_id": ctx.report.run_id,
                    "as_of": ctx.report.now.isoformat(),
                    "filter": action.filter,
                },
            )
        ],
    )
    return action


def _vacuum(ctx: _Context, info: TableInfo) -> int:
    from deltalake import DeltaTable

    for attempt in range(ctx.max_conflict_retries + 1):
        try:
            removed = DeltaTable(str(info.path)).vacuum(
                retention_hours=0, dry_run=False, enforce_retention_duration=False, full=False
            )
            return len(removed)
        except Exception as exc:
            if not _is_conflict(exc) or attempt == ctx.max_conflict_retries:
                raise
            ctx.sleep(min(0.2 * 2**attempt, 5.0))
    return 0


def _checkpoint(info: TableInfo) -> None:
    """A checkpoint after the run's commits: a catch-up run adds one commit per partition, and
    every reader would otherwise replay them all."""
    from deltalake import DeltaTable

    try:
        DeltaTable(str(info.path)).create_checkpoint()
    except Exception as exc:  # an optimisation only: the data is already right
        log.warning("checkpoint of %s after retention failed: %s", info.name, exc)


def _enforce_files(ctx: _Context, policy: RetentionPolicy) -> None:
    from lake.audit import AuditEntry, record

    folder = _files_folder(policy, ctx.settings)
    if isinstance(folder, str):
        raise RetentionPolicyError(f"policy {policy.name}: {folder}")
    assert policy.keep_days is not None
    limit = (ctx.report.now - dt.timedelta(days=policy.keep_days)).timestamp()
    for path in sorted(folder.rglob("*")):
        # Regular files only, not followed through links; a file still being written has a
        # fresh modification time and is never old enough.
        if (
            path.is_symlink()
            or not path.is_file()
            or not fnmatch.fnmatch(path.name, policy.pattern)
        ):
            continue
        stat = path.stat()
        if stat.st_mtime >= limit:
            continue
        action = RetentionAction(
            policy=policy.name,
            table=f"files:{policy.files}",
            partition=str(path.relative_to(folder)),
            bytes_freed=stat.st_size,
            status="would_delete" if ctx.report.dry_run else "deleted",
        )
        ctx.report.actions.append(action)
        if not ctx.report.dry_run:
            path.unlink(missing_ok=True)
            record(
                ctx.settings,
                AuditEntry(
                    "retention_delete",
                    actor=ctx.actor,
                    target=f"{policy.files}/{action.partition}",
                    details={"policy": policy.name, "run_id": ctx.report.run_id},
                ),
            )


def enforce(
    settings: Settings,
    policies: Sequence[RetentionPolicy] | None = None,
    *,
    policy_path: Path | None = None,
    now: dt.datetime | dt.date | None = None,
    dry_run: bool = False,
    run_id: str | None = None,
    actor: str | None = None,
    max_conflict_retries: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> RetentionReport:
    """Apply the retention policies at ``now`` (default: the real clock); returns what was done.

    ``policies`` default to those of ``policy_path`` (default: the settings' policy file).

    Failures of one partition are reported (status ``failed``) and do not stop the others; the
    caller decides whether a report with failures fails the run.
    """
    from lake.audit import default_actor

    source = str(policy_path or policy_file(settings))
    if policies is not None and policy_path is None:
        source = "(policies given by the caller)"
    if policies is None:
        policies = load_policies(settings, policy_path)
    else:
        validate_against_lake(policies, settings)
    clock = _as_utc(now)
    report = RetentionReport(
        run_id=run_id or uuid.uuid4().hex[:12],
        started_at=dt.datetime.now(dt.UTC),
        now=clock,
        dry_run=dry_run,
        policy_file=source,
    )
    ctx = _Context(
        settings=settings,
        report=report,
        store=ArchiveStore(settings.archive_location),
        actor=actor or default_actor(),
        max_conflict_retries=max_conflict_retries,
        sleep=sleep,
    )
    tables = known_tables(settings)
    # Per table: whole-partition policies first (they archive everything of an expired day), then
    # row-filtered ones, which then only see rows of days still kept by the former.
    targets: dict[str, list[RetentionPolicy]] = {}
    covered = {p.table for p in policies if p.table and not p.where and not p.table.endswith("*")}
    for policy in sorted(policies, key=lambda p: (p.where is not None, p.name)):
        if policy.files is not None:
            _enforce_files(ctx, policy)
            continue
        for info in tables_of(policy, tables):
            if policy.table and policy.table.endswith("*") and info.name in covered:
                continue  # a table's own policy wins over its layer's
            targets.setdefault(info.name, []).append(policy)
    for name, rules in targets.items():
        summary: dict[str, Any] = report.tables.setdefault(name, {"policies": []})
        deleted_any = False
        for policy in rules:
            summary["policies"].append(policy.name)
            if policy.keep_days is None:
                summary.setdefault("kept_forever_by", policy.name)
                continue
            fresh = _on_disk(settings, name)
            if fresh is None:
                summary["skipped"] = "not a Delta table yet"
                continue
            if fresh.date_column is None:
                summary["skipped"] = "no date partition column"
                continue
            cutoff = cutoff_date(clock, policy.keep_days)
            summary.setdefault("cutoffs", {})[policy.name] = cutoff.isoformat()
            from deltalake import DeltaTable

            delta = DeltaTable(str(fresh.path))
            if policy.where:
                planned: dict[dt.date, int | None] = dict(
                    _matching_days(delta, fresh.date_column, cutoff, policy.where)
                )
            else:
                planned = dict.fromkeys(_partitions(delta, fresh.date_column))
            for day in sorted(d for d in planned if d < cutoff):
                if policy.where and (name, day) in ctx.whole_days:
                    continue
                try:
                    action = _enforce_partition(ctx, policy, fresh, delta, day, planned[day])
                except Exception as exc:
                    log.exception("retention of %s %s failed", name, day)
                    action = RetentionAction(
                        policy=policy.name,
                        table=name,
                        partition=f"{fresh.date_column}={day.isoformat()}",
                        status="failed",
                        error=f"{type(exc).__name__}: {exc}",
                    )
                if action is not None:
                    report.actions.append(action)
                    if not policy.where and action.status != "failed":
                        ctx.whole_days.add((name, day))
                    deleted_any = deleted_any or action.status == "deleted"
            try:
                copied = _enforce_warehouse_copy(ctx, policy, name, cutoff)
            except Exception as exc:
                log.exception("retention of the warehouse copy of %s failed", name)
                copied = RetentionAction(
                    policy=policy.name,
                    table=f"warehouse/{name}",
                    partition=f"<{cutoff.isoformat()}",
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}",
                )
            if copied is not None:
                report.actions.append(copied)
        if deleted_any:
            summary["vacuumed_files"] = _vacuum(ctx, tables[name])
            _checkpoint(tables[name])
    if not dry_run:
        write_run_history(settings, report, actor=ctx.actor)
    return report


# ---- run history -------------------------------------------------------------------------------

RUNS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("run_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("as_of", pa.timestamp("us", tz="UTC"), nullable=False),  # the clock used
        pa.field("actor", pa.string(), nullable=False),
        pa.field("policy", pa.string()),  # null: a run that found nothing expired
        pa.field("table_name", pa.string()),
        pa.field("partition", pa.string()),
        pa.field("filter", pa.string()),
        pa.field("rows_archived", pa.int64(), nullable=False),
        pa.field("rows_deleted", pa.int64(), nullable=False),
        pa.field("bytes_freed", pa.int64(), nullable=False),
        pa.field("archive_path", pa.string()),
        pa.field("status", pa.string(), nullable=False),  # deleted | failed | nothing_expired
        pa.field("conflicts_retried", pa.int64(), nullable=False),
        pa.field("error", pa.string()),
    ]
)


def runs_path(settings: Settings) -> Path:
    return settings.table_path(*RUNS_TABLE)


def write_run_history(settings: Settings, report: RetentionReport, actor: str | None = None) -> int:
    """Append the run's actions to ``system/retention_runs`` (one row per action, or one
    ``nothing_expired`` row), one commit."""

    from lake.audit import default_actor

    base = {
        "run_id": report.run_id,
        "run_at": report.started_at,
        "as_of": report.now,
        "actor": actor or default_actor(),
    }
    rows = [
        {
            **base,
            "policy": a.policy,
            "table_name": a.table,
            "partition": a.partition,
            "filter": a.filter,
            "rows_archived": a.rows_archived,
            "rows_deleted": a.rows_deleted,
            "bytes_freed": a.bytes_freed,
            "archive_path": a.archive_path,
            "status": a.status,
            "conflicts_retried": a.conflicts_retried,
            "error": a.error,
        }
        for a in report.actions
    ] or [
        {
            **base,
            "rows_archived": 0,
            "rows_deleted": 0,
            "bytes_freed": 0,
            "status": "nothing_expired",
            "conflicts_retried": 0,
        }
    ]
    from lake.writer import append_table

    return append_table(runs_path(settings), pa.Table.from_pylist(rows, schema=RUNS_SCHEMA))


def read_run_history(settings: Settings) -> pa.Table:
    from deltalake import DeltaTable

    path = runs_path(settings)
    if not DeltaTable.is_deltatable(str(path)):
        return RUNS_SCHEMA.empty_table()
    return DeltaTable(str(path)).to_pyarrow_table().sort_by([("run_at", "ascending")])
