"""Subscription filters of the live stream (pure).

A :class:`LiveFilter` is built from SSE query parameters (:meth:`LiveFilter.from_query`) or from
the WebSocket ``subscribe`` object (:meth:`LiveFilter.from_json`) and matched against event
frames. Within one field the values are alternatives (any of); fields combine with AND. Property
equality compares strings: a JSON scalar property is turned into text the way JSON writes it
(``"premium"`` → ``premium``, ``3`` → ``3``, ``true`` → ``true``, ``null`` → ``null``); objects
and arrays never match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

QUERY_KEYS = ("event", "type", "user_id", "source_id", "aggregates", "token")
JSON_KEYS = ("event", "type", "user_id", "source_id", "prop", "aggregates")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class FilterError(ValueError):
    """A filter the stream cannot apply; the message says which parameter and why."""


def scalar_text(value: Any) -> str | None:
    """A JSON scalar as the text it is compared by; None for objects and arrays."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return orjson.dumps(value).decode()
    return None


@dataclass(frozen=True)
class LiveFilter:
    events: frozenset[str] | None = None
    types: frozenset[str] | None = None
    user_ids: frozenset[str] | None = None
    source_ids: frozenset[str] | None = None
    props: tuple[tuple[str, str], ...] = ()
    aggregates: bool = False
    # Events with no criteria at all match everything; kept for cheap fast paths.
    match_all: bool = field(init=False, default=True)

    def __post_init__(self) -> None:
        everything = not (
            self.events or self.types or self.user_ids or self.source_ids or self.props
        )
        object.__setattr__(self, "match_all", everything)

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def from_query(cls, params: Iterable[tuple[str, str]]) -> LiveFilter:
        """From query parameters: ``event`` (repeatable), ``type``, ``user_id``, ``source_id``,
        ``prop.<name>=<value>``, ``aggregates=1``. ``token`` is ignored (auth reads it)."""
        events: list[str] = []
        types: list[str] = []
        users: list[str] = []
        sources: list[str] = []
        props: dict[str, str] = {}
        aggregates = False
        for key, value in params:
            if key == "event":
                events.append(value)
            elif key == "type":
                types.append(value)
            elif key == "user_id":
                users.append(value)
            elif key == "source_id":
                sources.append(value)
            elif key.startswith("prop.") and len(key) > 5:
                props[key[5:]] = value
            elif key == "aggregates":
                aggregates = _flag(key, value)
            elif key == "token":
                continue
            else:
                raise FilterError(
                    f"unknown query parameter {key!r}: use event, type, user_id, source_id, "
                    "prop.<name>=<value>, aggregates=1 (and token= for auth)"
                )
        return cls(
            events=frozenset(events) or None,
            types=frozenset(types) or None,
            user_ids=frozenset(users) or None,
            source_ids=frozenset(sources) or None,
            props=tuple(sorted(props.items())),
            aggregates=aggregates,
        )

    @classmethod
    def from_json(cls, spec: Any) -> LiveFilter:
        """From the WebSocket ``{"subscribe": {...}}`` object, e.g.
        ``{"event": ["Workout Completed"], "prop": {"plan": "premium_monthly"}, "aggregates": true}``."""
        if spec is None:
            return cls()
        if not isinstance(spec, Mapping):
            raise FilterError("subscribe must be a JSON object of filters")
        unknown = sorted(set(spec) - set(JSON_KEYS))
        if unknown:
            raise FilterError(f"unknown filter(s) {unknown}: use {list(JSON_KEYS)}")
        prop_spec = spec.get("prop") or {}
        if not isinstance(prop_spec, Mapping):
            raise FilterError('"prop" must be an object of property name → scalar value')
        props: dict[str, str] = {}
        for name, value in prop_spec.items():
            text = scalar_text(value)
            if text is None:
                raise FilterError(f'"prop.{name}" must be a string, number, boolean or null')
            props[str(name)] = text
        aggregates = spec.get("aggregates", False)
        if not isinstance(aggregates, bool | int):
            raise FilterError('"aggregates" must be true or false')
        return cls(
            events=_json_set(spec, "event"),
            types=_json_set(spec, "type"),
            user_ids=_json_set(spec, "user_id"),
            source_ids=_json_set(spec, "source_id"),
            props=tuple(sorted(props.items())),
            aggregates=bool(aggregates),
        )

    def describe(self) -> dict[str, Any]:
        """The filter as the JSON object a client would send (echoed on subscribe)."""
        out: dict[str, Any] = {}
        if self.events:
            out["event"] = sorted(self.events)
        if self.types:
            out["type"] = sorted(self.types)
        if self.user_ids:
            out["user_id"] = sorted(self.user_ids)
        if self.source_ids:
            out["source_id"] = sorted(self.source_ids)
        if self.props:
            out["prop"] = dict(self.props)
        out["aggregates"] = self.aggregates
        return out

    # ---- matching ----------------------------------------------------------------------------
    def matches(self, frame: Mapping[str, Any]) -> bool:
        if self.match_all:
            return True
        if self.events is not None and frame.get("event") not in self.events:
            return False
        if self.types is not None and frame.get("type") not in self.types:
            return False
        if self.user_ids is not None and frame.get("user_id") not in self.user_ids:
            return False
        if self.source_ids is not None and frame.get("source_id") not in self.source_ids:
            return False
        if self.props:
            properties = frame.get("properties") or {}
            for name, expected in self.props:
                if name not in properties or scalar_text(properties[name]) != expected:
                    return False
        return True


def _flag(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise FilterError(f"{key} must be 1 or 0 (got {value!r})")


def _json_set(spec: Mapping[str, Any], key: str) -> frozenset[str] | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset([value])
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value) or None
    raise FilterError(f'"{key}" must be a string or an array of strings')
