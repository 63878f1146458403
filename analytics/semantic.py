"""MetricFlow embedded in the process: the semantic manifest → SQL over dbt relation names.

``dbt parse`` (``pulse prepare``) writes ``dbt_project/target/semantic_manifest.json``; this module
parses it the way MetricFlow's own CLI does, builds a ``SemanticManifestLookup`` and a
``MetricFlowEngine`` whose SQL client only renders DuckDB SQL (queries are executed by
:mod:`analytics.publication` over the gold publication). ``SemanticLayer.compile`` gives the SQL
of one request and the dbt relations it reads; compiled SQL is cached (it depends only on the
manifest and the request, not on the data).

MetricFlow is imported lazily (about 1-2.5 s): ``import analytics`` stays cheap.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics.catalogue import (
    CatalogueError,
    ManifestIndex,
    MetricInfo,
    metric_info,
    read_manifest,
)

if TYPE_CHECKING:
    import duckdb

REPO_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SEMANTIC_MANIFEST = REPO_DIR / "dbt_project" / "target" / "semantic_manifest.json"
COMPILE_CACHE_ENTRIES = 2048


class QueryError(ValueError):
    """MetricFlow (or the query layer) refused a request; the message says why."""


@dataclass(frozen=True)
class Relation:
    """A dbt relation named in MetricFlow's SQL, and what serves it."""

    database: str
    schema: str
    alias: str
    relation_name: str  # '"pulse"."main"."fct_user_daily"'
    semantic_model: str | None  # None for the time spine
    time_column: str | None = None  # the agg time dimension (the spine: its day column)

    @property
    def is_time_spine(self) -> bool:
        return self.semantic_model is None


@dataclass(frozen=True)
class Compiled:
    sql: str
    relations: tuple[str, ...]  # relation names read, sorted
    compile_ms: float


class DuckDbSqlClient:
    """MetricFlow's ``SqlClient`` protocol over one DuckDB connection (DuckDB dialect).

    The query layer only uses it to render SQL; MetricFlow's data-warehouse validations
    (``DataWarehouseModelValidator``) also run queries through it, e.g. in the tests."""

    def __init__(self, connection: duckdb.DuckDBPyConnection | None = None) -> None:
        from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer

        self._connection = connection
        self._renderer = DuckDbSqlPlanRenderer()

    @property
    def sql_engine_type(self) -> Any:
        from metricflow.protocols.sql_client import SqlEngine

        return SqlEngine.DUCKDB

    @property
    def sql_plan_renderer(self) -> Any:
        return self._renderer

    def _con(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            raise QueryError("this SQL client renders SQL only: it has no connection")
        return self._connection.cursor()

    @staticmethod
    def _no_bind(bind: Any) -> None:
        if bind is not None and getattr(bind, "param_dict", None):
            raise QueryError("bind parameters are not supported")

    def query(self, stmt: str, sql_bind_parameter_set: Any = None) -> Any:
        from metricflow.data_table.mf_table import MetricFlowDataTable

        self._no_bind(sql_bind_parameter_set)
        cur = self._con()
        try:
            rows = cur.execute(stmt).fetchall()
            columns = [d[0] for d in cur.description]
        finally:
            cur.close()
        return MetricFlowDataTable.create_from_rows(column_names=columns, rows=rows)

    def execute(self, stmt: str, sql_bind_parameter_set: Any = None) -> None:
        self._no_bind(sql_bind_parameter_set)
        cur = self._con()
        try:
            cur.execute(stmt).fetchall()
        finally:
            cur.close()

    def dry_run(self, stmt: str, sql_bind_parameter_set: Any = None) -> None:
        self._no_bind(sql_bind_parameter_set)
        cur = self._con()
        try:
            cur.execute(f"EXPLAIN {stmt}").fetchall()
        finally:
            cur.close()

    def close(self) -> None:
        return None

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"${bind_parameter_key}"


def _short_error(exc: Exception) -> str:
    """MetricFlow's messages are long (issue trees); keep the first meaningful lines."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    keep = [
        line for line in lines if not line.startswith(("Error #", "Message:", "Issue Location"))
    ]
    return " ".join(keep[:6])[:1200] or type(exc).__name__


class SemanticLayer:
    """The parsed semantic manifest, the catalogue and a compile-only MetricFlow engine."""

    def __init__(self, manifest_path: Path | str | None = None) -> None:
        self.path = Path(manifest_path or DEFAULT_SEMANTIC_MANIFEST)
        raw = read_manifest(self.path)
        if not raw.get("metrics"):
            raise CatalogueError(
                f"the semantic manifest {self.path} defines no metrics: run `pulse prepare` "
                "after changing dbt_project/models/semantic/"
            )
        self.text = self.path.read_text()
        self.version = hashlib.sha256(self.text.encode()).hexdigest()[:16]
        self.index = ManifestIndex(raw)

        from metricflow.engine.metricflow_engine import MetricFlowEngine
        from metricflow_semantics.model.dbt_manifest_parser import (
            parse_manifest_from_dbt_generated_manifest,
        )
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

        self.manifest = parse_manifest_from_dbt_generated_manifest(self.text)
        self.lookup = SemanticManifestLookup(self.manifest)
        self.engine = MetricFlowEngine(
            semantic_manifest_lookup=self.lookup, sql_client=DuckDbSqlClient()
        )
        self._lock = threading.Lock()  # MetricFlow's engine is not documented as thread-safe
        self._compiled: OrderedDict[tuple[Any, ...], Compiled] = OrderedDict()
        self._catalogue: dict[str, MetricInfo] | None = None
        self.relations = self._relations()

    # ---- relations ---------------------------------------------------------------------------
    def _relations(self) -> dict[str, Relation]:
        found: dict[str, Relation] = {}
        for name, model in self.index.semantic_models.items():
            node = model["node_relation"]
            rel = Relation(
                database=node["database"],
                schema=node["schema_name"],
                alias=node["alias"],
                relation_name=node["relation_name"],
                semantic_model=name,
                time_column=(model.get("defaults") or {}).get("agg_time_dimension"),
            )
            found[rel.relation_name] = rel
        for spine in self.index.time_spines:
            node = spine["node_relation"]
            found[node["relation_name"]] = Relation(
                database=node["database"],
                schema=node["schema_name"],
                alias=node["alias"],
                relation_name=node["relation_name"],
                semantic_model=None,
                time_column=spine["primary_column"]["name"],
            )
        return found

    @property
    def time_spine(self) -> Relation | None:
        return next((r for r in self.relations.values() if r.is_time_spine), None)

    def relations_in(self, sql: str) -> tuple[str, ...]:
        return tuple(sorted(name for name in self.relations if name in sql))

    # ---- catalogue ---------------------------------------------------------------------------
    def catalogue(self) -> dict[str, MetricInfo]:
        if self._catalogue is None:
            entries = {}
            with self._lock:
                for name in sorted(self.index.metrics):
                    dims = self.engine.simple_dimensions_for_metrics([name])
                    entries[name] = metric_info(self.index, name, dims)
            self._catalogue = entries
        return self._catalogue

    def info(self, name: str) -> MetricInfo:
        catalogue = self.catalogue()
        key = name.lower() if isinstance(name, str) else name
        if key not in catalogue:
            raise QueryError(
                f"unknown metric {name!r}; known metrics: {', '.join(sorted(catalogue))}"
            )
        return catalogue[key]

    # ---- compilation -------------------------------------------------------------------------
    def compile(
        self,
        metrics: Sequence[str],
        group_by: Sequence[str] = (),
        start: dt.date | None = None,
        end: dt.date | None = None,
        where: Sequence[str] = (),
        order_by: Sequence[str] = (),
    ) -> Compiled:
        """The DuckDB SQL of one MetricFlow request (cached)."""
        key = (tuple(metrics), tuple(group_by), start, end, tuple(where), tuple(order_by))
        with self._lock:
            hit = self._compiled.get(key)
            if hit is not None:
                self._compiled.move_to_end(key)
                return hit
            from metricflow.engine.metricflow_engine import MetricFlowQueryRequest
            from metricflow_semantics.errors.error_classes import MetricFlowException

            request = MetricFlowQueryRequest.create(
                metric_names=list(metrics),
                group_by_names=list(group_by) or None,
                time_constraint_start=_at_midnight(start),
                time_constraint_end=_at_midnight(end),
                where_constraints=list(where) or None,
                order_by_names=list(order_by) or None,
            )
            t0 = time.perf_counter()
            try:
                sql = self.engine.explain(request).sql_statement.sql
            except (MetricFlowException, ValueError, KeyError) as exc:
                raise QueryError(
                    f"MetricFlow cannot answer this query: {_short_error(exc)}"
                ) from exc
            compiled = Compiled(
                sql=sql,
                relations=self.relations_in(sql),
                compile_ms=(time.perf_counter() - t0) * 1000,
            )
            self._compiled[key] = compiled
            if len(self._compiled) > COMPILE_CACHE_ENTRIES:
                self._compiled.popitem(last=False)
            return compiled

    # ---- validation --------------------------------------------------------------------------
    def validate(self) -> Any:
        """MetricFlow's semantic validations (what ``mf validate-configs`` runs before the
        warehouse checks); returns its ``SemanticManifestValidationResults``."""
        from metricflow_semantic_interfaces.validations.semantic_manifest_validator import (
            SemanticManifestValidator,
        )

        return SemanticManifestValidator().validate_semantic_manifest(self.manifest)


def _at_midnight(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime(day.year, day.month, day.day)
