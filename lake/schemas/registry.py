"""Versioned JSON Schemas of the domain events, compiled once, checked per event.

Layout (like Snowplow's Iglu)::

    <root>/events/<snake_name>/<MAJOR-MINOR-PATCH>.json

Each file is a draft-07 JSON Schema of a ``track`` event's ``properties``, with
``"self": {"name": "<Event Name>", "version": "<MAJOR-MINOR-PATCH>"}``. The latest version of a name
validates; older versions stay for reading history. See ``lake/schemas/README.md``.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema

DEFAULT_ROOT = Path(__file__).resolve().parent
DRAFT_07 = "http://json-schema.org/draft-07/schema#"
_VERSION = re.compile(r"^(0|[1-9]\d*)-(0|[1-9]\d*)-(0|[1-9]\d*)$")
_SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")


class SchemaRegistryError(ValueError):
    """A schema file is unusable; the message names the file and what to fix."""


@dataclass(frozen=True, slots=True)
class SchemaVerdict:
    """Outcome of :meth:`SchemaRegistry.check`.

    ``known``: the event name has a schema. ``valid``: the properties pass it (always True for an
    unknown name: the unknown-event policy is the caller's). ``error`` names the failing property
    and rule, never the value. ``schema_version`` is the version checked against.
    """

    known: bool
    valid: bool
    error: str | None = None
    schema_version: str | None = None


UNKNOWN = SchemaVerdict(known=False, valid=True, error=None, schema_version=None)


def snake_name(event_name: str) -> str:
    """``"Workout Completed"`` -> ``"workout_completed"``; ``"API Request"`` -> ``"api_request"``."""
    return re.sub(r"[^a-z0-9]+", "_", event_name.lower()).strip("_")


def _version_key(version: str) -> tuple[int, int, int]:
    major, minor, patch = version.split("-")
    return int(major), int(minor), int(patch)


@dataclass(frozen=True, slots=True)
class _Compiled:
    version: str
    validate: Any  # fastjsonschema validator: (data) -> data, raises JsonSchemaValueException
    ok: SchemaVerdict  # the shared "valid" verdict (no allocation on the hot path)


class SchemaRegistry:
    """All event schemas under one root; build with :meth:`load`."""

    def __init__(self, schemas: dict[str, dict[str, dict]], root: Path) -> None:
        # schemas: event name -> version -> schema document
        self.root = root
        self._schemas = schemas
        self._latest: dict[str, _Compiled] = {}
        for name, versions in schemas.items():
            latest = max(versions, key=_version_key)
            self._latest[name] = _Compiled(
                version=latest,
                validate=_compile(versions[latest], f"{name} {latest}"),
                ok=SchemaVerdict(known=True, valid=True, error=None, schema_version=latest),
            )
        self.names: frozenset[str] = frozenset(schemas)

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path | str | None = None) -> SchemaRegistry:
        """Read and compile every ``<path>/events/*/*.json`` (default: this package's).

        Raises :class:`SchemaRegistryError` when a file is not valid JSON, not a draft-07 object
        schema, its ``self`` disagrees with its path, or a minor/patch bump breaks the previous
        version (adds a required property or changes a property's type).
        """
        root = Path(path) if path is not None else DEFAULT_ROOT
        events_dir = root / "events"
        if not events_dir.is_dir():
            raise SchemaRegistryError(
                f"no schema directory at {events_dir}: expected <root>/events/<name>/<version>.json"
            )
        schemas: dict[str, dict[str, dict]] = {}
        dir_of: dict[str, str] = {}
        for file in sorted(events_dir.glob("*/*.json")):
            doc = _read(file)
            name, version = doc["self"]["name"], doc["self"]["version"]
            folder = file.parent.name
            if dir_of.setdefault(name, folder) != folder:
                raise SchemaRegistryError(
                    f"{file}: event {name!r} is also defined in {dir_of[name]}/"
                )
            schemas.setdefault(name, {})[version] = doc
        names_by_dir: dict[str, set[str]] = {}
        for name, folder in dir_of.items():
            names_by_dir.setdefault(folder, set()).add(name)
        for folder, names in names_by_dir.items():
            if len(names) > 1:
                raise SchemaRegistryError(
                    f"{events_dir / folder}: files name different events {sorted(names)}; "
                    "one folder holds the versions of one event"
                )
        for name, versions in schemas.items():
            _check_evolution(name, versions, events_dir / dir_of[name])
        return cls(schemas, root)

    # ---- the hot path ----------------------------------------------------------------------
    def check(self, event_name: str, properties: Any) -> SchemaVerdict:
        """Validate a track event's properties against the latest schema of its name.

        ``None`` properties count as ``{}`` (Segment allows a track without properties).
        """
        compiled = self._latest.get(event_name)
        if compiled is None:
            return UNKNOWN
        data = {} if properties is None else properties
        try:
            compiled.validate(data)
        except fastjsonschema.JsonSchemaValueException as exc:
            return SchemaVerdict(
                known=True, valid=False, error=_describe(exc, data), schema_version=compiled.version
            )
        return compiled.ok

    # ---- introspection ---------------------------------------------------------------------
    def versions(self, name: str) -> list[str]:
        """Versions of ``name``, oldest first; ``[]`` for an unknown name."""
        return sorted(self._schemas.get(name, {}), key=_version_key)

    def latest_version(self, name: str) -> str | None:
        compiled = self._latest.get(name)
        return compiled.version if compiled else None

    def schema(self, name: str, version: str | None = None) -> dict:
        """A copy of the schema document (latest version by default); KeyError if absent."""
        versions = self._schemas.get(name)
        if versions is None:
            raise KeyError(f"no schema for event {name!r}")
        version = version or self._latest[name].version
        if version not in versions:
            raise KeyError(f"no version {version!r} of {name!r}; have {self.versions(name)}")
        return copy.deepcopy(versions[version])

    def __repr__(self) -> str:
        return f"SchemaRegistry({len(self.names)} events from {self.root})"


# ---- helpers -------------------------------------------------------------------------------
def _read(file: Path) -> dict:
    where = f"{file.parent.name}/{file.name}"
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaRegistryError(f"schema {where}: not readable JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise SchemaRegistryError(f"schema {where}: must be a JSON object")
    meta = doc.get("self")
    if not (
        isinstance(meta, dict)
        and isinstance(meta.get("name"), str)
        and isinstance(meta.get("version"), str)
    ):
        raise SchemaRegistryError(
            f'schema {where}: needs "self": {{"name": "<Event Name>", "version": "1-0-0"}}'
        )
    name, version = meta["name"], meta["version"]
    if not _VERSION.match(version):
        raise SchemaRegistryError(f"schema {where}: version {version!r} is not MAJOR-MINOR-PATCH")
    if file.stem != version:
        raise SchemaRegistryError(
            f"schema {where}: self.version {version!r} disagrees with the file name {file.name!r}"
        )
    if not _SNAKE.match(file.parent.name) or snake_name(name) != file.parent.name:
        raise SchemaRegistryError(
            f"schema {where}: self.name {name!r} belongs in folder {snake_name(name)!r}/"
        )
    if doc.get("$schema") != DRAFT_07:
        raise SchemaRegistryError(f'schema {where}: "$schema" must be "{DRAFT_07}"')
    if doc.get("type") != "object" or not isinstance(doc.get("properties", {}), dict):
        raise SchemaRegistryError(f'schema {where}: must be "type": "object" with "properties"')
    required = doc.get("required", [])
    if not isinstance(required, list) or not all(isinstance(k, str) for k in required):
        raise SchemaRegistryError(f'schema {where}: "required" must be a list of names')
    undeclared = sorted(set(required) - set(doc.get("properties", {})))
    if undeclared:
        raise SchemaRegistryError(f"schema {where}: required but not described: {undeclared}")
    _compile(doc, where)  # fail at load, not on the first event
    return doc


def _compile(doc: dict, where: str) -> Any:
    try:
        return fastjsonschema.compile(doc)
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise SchemaRegistryError(f"schema {where}: invalid JSON Schema ({exc})") from None


def _prop_types(doc: dict) -> dict[str, Any]:
    return {k: v.get("type") for k, v in doc.get("properties", {}).items() if isinstance(v, dict)}


def _check_evolution(name: str, versions: dict[str, dict], folder: Path) -> None:
    """Within one MAJOR, a later version may only add optional properties or relax rules."""
    ordered = sorted(versions, key=_version_key)
    for older, newer in itertools.pairwise(ordered):
        if _version_key(older)[0] != _version_key(newer)[0]:
            continue
        old, new = versions[older], versions[newer]
        added = sorted(set(new.get("required", [])) - set(old.get("required", [])))
        if added:
            raise SchemaRegistryError(
                f"{folder.name}/{newer}.json: newly required {added} is a breaking change; "
                "bump the MAJOR version"
            )
        old_types, new_types = _prop_types(old), _prop_types(new)
        changed = sorted(
            k for k in old_types.keys() & new_types.keys() if old_types[k] != new_types[k]
        )
        if changed:
            raise SchemaRegistryError(
                f"{folder.name}/{newer}.json: type of {changed} changed since {older}; "
                "bump the MAJOR version"
            )


def _describe(exc: fastjsonschema.JsonSchemaValueException, data: Any) -> str:
    """Property path and rule of a failure, never the value (values may be PII)."""
    path = "properties" + (exc.name or "data")[4:]
    rule = exc.rule or "schema"
    definition = exc.rule_definition
    if rule == "required" and isinstance(definition, list):
        present = data if isinstance(data, dict) and path == "properties" else {}
        missing = [k for k in definition if k not in present] or definition
        return f"{path}: missing required {', '.join(missing)}"
    if rule == "type":
        return f"{path}: must be of type {definition}"
    if rule == "enum":
        return f"{path}: must be one of {definition}"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{path}: violates {rule} {definition}"
    if rule in ("minLength", "maxLength", "pattern"):
        return f"{path}: violates {rule} {definition}"
    return f"{path}: violates {rule}"
