"""The metric catalogue: what each metric is, read from the dbt semantic manifest (pure).

Metrics are defined once, in ``dbt_project/models/semantic/*.yml`` (MetricFlow semantic models and
metrics); ``dbt parse`` writes them to ``dbt_project/target/semantic_manifest.json``. This module
turns that JSON into :class:`MetricInfo` records (label, unit, format, direction of good, docs
link, how the metric aggregates over a period, the marts it reads) that every page, card, export
and report uses instead of its own constants. The dimensions a metric can be sliced by come from
MetricFlow (:mod:`analytics.semantic`), which knows the join paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The dashboards' global segment filters; a dimension realizes one with `config: meta: segment:`.
SEGMENTS = ("platform", "acquisition_channel", "plan", "country")
DIRECTIONS = ("up", "down", "neutral")
REQUIRED_META = ("unit", "format", "direction", "docs", "category")
GRAINS = ("day", "week", "month", "quarter", "year")


class CatalogueError(ValueError):
    """The semantic manifest is missing, unreadable or breaks a catalogue convention."""


@dataclass(frozen=True)
class MetricInfo:
    """One metric of the catalogue.

    ``aggregation`` says how the metric combines over a period: ``sum``, ``count_distinct``
    (distinct over the whole period), ``average`` (of the daily values, every day counted: DAU),
    ``last`` (the value on the period's last day: WAU, MAU, MRR), ``ratio`` (recomputed from the
    parts' totals) or ``derived`` (an expression over other metrics, each aggregated its own way).
    """

    name: str
    label: str
    description: str
    type: str  # simple | ratio | derived | cumulative | conversion
    aggregation: str
    unit: str
    format: str
    direction: str
    docs: str
    category: str
    target: float | None = None
    time_grain: str = "day"  # the finest grain it can be queried at
    inputs: tuple[str, ...] = ()  # metrics it is computed from (ratio, derived, cumulative)
    semantic_models: tuple[str, ...] = ()
    marts: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()  # MetricFlow names (entity__dimension) it can be sliced by
    segments: Mapping[str, str] = field(default_factory=dict)  # global segment -> dimension
    live: bool = False  # answers "today so far" from bronze (see analytics.live)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def format_value(self, value: float | None) -> str:
        """The value as a card shows it ('—' for no value)."""
        if value is None:
            return "—"
        return self.format.format(value)

    def is_better(self, change: float) -> bool | None:
        """Whether a change of this sign is good news (None for neutral metrics)."""
        if self.direction == "neutral" or change == 0:
            return None
        return (change > 0) == (self.direction == "up")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "type": self.type,
            "aggregation": self.aggregation,
            "unit": self.unit,
            "format": self.format,
            "direction": self.direction,
            "docs": self.docs,
            "category": self.category,
            "target": self.target,
            "time_grain": self.time_grain,
            "inputs": list(self.inputs),
            "semantic_models": list(self.semantic_models),
            "marts": list(self.marts),
            "dimensions": list(self.dimensions),
            "segments": dict(self.segments),
            "live": self.live,
        }


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CatalogueError(
            f"no semantic manifest at {path}: run `pulse prepare` (dbt parse writes it)"
        ) from None
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"the semantic manifest {path} is not valid JSON: {exc}") from None


class ManifestIndex:
    """Lookups over the raw semantic manifest JSON (names are lower-cased, as MetricFlow does)."""

    def __init__(self, manifest: Mapping[str, Any]) -> None:
        self.manifest = manifest
        self.metrics: dict[str, dict[str, Any]] = {
            m["name"].lower(): m for m in manifest.get("metrics", [])
        }
        self.semantic_models: dict[str, dict[str, Any]] = {
            s["name"].lower(): s for s in manifest.get("semantic_models", [])
        }
        self.measure_model: dict[str, str] = {}
        for model in self.semantic_models.values():
            for measure in model.get("measures", []):
                self.measure_model[measure["name"].lower()] = model["name"].lower()
        spines = manifest.get("project_configuration", {}).get("time_spines", [])
        self.time_spines: list[dict[str, Any]] = list(spines)

    # ---- structure ---------------------------------------------------------------------------
    def metric(self, name: str) -> dict[str, Any]:
        try:
            return self.metrics[name.lower()]
        except KeyError:
            raise CatalogueError(
                f"unknown metric {name!r}; known metrics: {', '.join(sorted(self.metrics))}"
            ) from None

    def input_metrics(self, name: str) -> tuple[str, ...]:
        """Metrics a ratio or derived metric is computed from (no measures)."""
        params = self.metric(name).get("type_params") or {}
        kind = self.metric(name)["type"]
        if kind == "ratio":
            return (params["numerator"]["name"].lower(), params["denominator"]["name"].lower())
        if kind == "derived":
            return tuple(m["name"].lower() for m in params.get("metrics") or [])
        return ()

    def measures(self, name: str) -> tuple[str, ...]:
        """Measures the metric reads, through its inputs."""
        metric = self.metric(name)
        params = metric.get("type_params") or {}
        found: list[str] = []
        if metric["type"] in ("simple", "cumulative") and params.get("measure"):
            found.append(params["measure"]["name"].lower())
        for m in params.get("input_measures") or []:
            found.append(m["name"].lower())
        for child in self.input_metrics(name):
            found.extend(self.measures(child))
        return tuple(dict.fromkeys(found))

    def semantic_models_of(self, name: str) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(
                self.measure_model[m] for m in self.measures(name) if m in self.measure_model
            )
        )

    def relation(self, semantic_model: str) -> dict[str, str]:
        return self.semantic_models[semantic_model]["node_relation"]

    def is_cumulative(self, name: str) -> bool:
        return self.metric(name)["type"] == "cumulative"

    def needs_metric_time(self, name: str) -> bool:
        """Cumulative, or computed from a cumulative metric: MetricFlow cannot total it over a
        range without a time grain (and its own period aggregation skips empty days per group)."""
        return self.is_cumulative(name) or any(
            self.needs_metric_time(child) for child in self.input_metrics(name)
        )

    def period_agg(self, name: str) -> str:
        params = (self.metric(name).get("type_params") or {}).get("cumulative_type_params") or {}
        return str(params.get("period_agg") or "first").lower()

    def measure(self, name: str) -> dict[str, Any]:
        model = self.semantic_models[self.measure_model[name]]
        return next(m for m in model["measures"] if m["name"].lower() == name)

    def aggregation(self, name: str) -> str:
        metric = self.metric(name)
        kind = metric["type"]
        if kind == "cumulative":
            return {"average": "average", "last": "last", "first": "first"}[self.period_agg(name)]
        if kind in ("ratio", "derived", "conversion"):
            return kind
        measures = self.measures(name)
        if not measures:
            return "sum"
        measure = self.measure(measures[0])
        if measure.get("non_additive_dimension"):
            choice = (measure["non_additive_dimension"].get("window_choice") or "max").lower()
            return "last" if choice == "max" else "first"
        agg = measure["agg"].lower()
        return {"count": "sum", "sum_boolean": "sum"}.get(agg, agg)

    def time_grain(self, name: str) -> str:
        """The coarsest agg-time granularity among the semantic models the metric reads."""
        order = {g: i for i, g in enumerate(GRAINS)}
        grain = "day"
        for model_name in self.semantic_models_of(name):
            model = self.semantic_models[model_name]
            agg_dim = (model.get("defaults") or {}).get("agg_time_dimension")
            for dim in model.get("dimensions", []):
                if dim["name"] == agg_dim:
                    g = ((dim.get("type_params") or {}).get("time_granularity") or "day").lower()
                    if order.get(g, 0) > order[grain]:
                        grain = g
        return grain


def metric_info(
    index: ManifestIndex,
    name: str,
    dimensions: Iterable[Any] = (),
) -> MetricInfo:
    """The catalogue entry of ``name``; ``dimensions`` are MetricFlow ``Dimension`` objects (with
    ``dunder_name`` and ``config.meta``) available for it."""
    metric = index.metric(name)
    meta = dict((metric.get("config") or {}).get("meta") or {})
    missing = [key for key in REQUIRED_META if not meta.get(key)]
    if missing:
        raise CatalogueError(
            f"metric {name!r} has no {', '.join(missing)} in its `config: meta:` "
            "(dbt_project/models/semantic/*.yml; see core.yml for the conventions)"
        )
    if meta["direction"] not in DIRECTIONS:
        raise CatalogueError(
            f"metric {name!r}: direction must be one of {', '.join(DIRECTIONS)}, "
            f"not {meta['direction']!r}"
        )
    dims: list[str] = []
    segments: dict[str, str] = {}
    for dim in dimensions:
        dunder = dim.dunder_name
        if dunder.startswith("metric_time"):
            continue
        dims.append(dunder)
        dim_meta = (getattr(dim.config, "meta", None) or {}) if dim.config else {}
        segment = dim_meta.get("segment")
        if segment in SEGMENTS and len(dim.entity_links) == 1:
            segments.setdefault(segment, dunder)
    models = index.semantic_models_of(name)
    target = meta.get("target")
    return MetricInfo(
        name=metric["name"].lower(),
        label=metric.get("label") or metric["name"],
        description=" ".join((metric.get("description") or "").split()),
        type=metric["type"],
        aggregation=index.aggregation(name),
        unit=str(meta["unit"]),
        format=str(meta["format"]),
        direction=str(meta["direction"]),
        docs=str(meta["docs"]),
        category=str(meta["category"]),
        target=float(target) if target is not None else None,
        time_grain=index.time_grain(name),
        inputs=index.input_metrics(name)
        or tuple(
            p["name"].lower()
            for p in (metric.get("type_params") or {}).get("metrics") or []
            if metric["type"] == "cumulative"
        ),
        semantic_models=models,
        marts=tuple(index.relation(m)["alias"] for m in models),
        dimensions=tuple(sorted(set(dims))),
        segments=dict(sorted(segments.items())),
        meta=meta,
    )
