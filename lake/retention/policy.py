"""Policy parsing: the YAML file's form (pydantic), then validation against the lake (tables,
columns, folders), one :class:`RetentionPolicyError` listing every problem with what to do."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.settings import Settings
from lake.retention.tables import TableInfo, known_tables

DEFAULT_POLICY_FILE = Path(__file__).parents[1] / "retention.yaml"  # lake/retention.yaml
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
            folder = files_folder(p, settings)
            if isinstance(folder, str):
                problems.append(f"policy {p.name}: {folder}")
    if problems:
        raise RetentionPolicyError(
            f"invalid retention policy file {source}:\n" + "\n".join(f"  - {x}" for x in problems)
        )


def files_folder(p: RetentionPolicy, settings: Settings) -> Path | str:
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
