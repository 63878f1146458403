"""A gold publication exposed under dbt's relation names, in an in-memory DuckDB.

MetricFlow's SQL names dbt relations (``"pulse"."main"."fct_user_daily"``). For one publication
(``lake.gold``: immutable Parquet files) :class:`PublicationDB` opens an in-memory DuckDB, attaches
an empty in-memory database for each database name the semantic manifest uses, and creates a view
per mart over the publication's Parquet file — so the SQL runs unchanged, and the warehouse's
``.duckdb`` file is never opened. The time spine is served here too, as the calendar days of the
publication's event date range (``exec_daily_kpis.kpi_date``, one row per day from the first to the
last event day), so cumulative metrics never average over days the data does not cover.

Each publication gets its own database: a query resolves the publication first and runs on that
publication's views, so a publication flipped mid-query cannot mix old and new marts. After the
views exist the connection is locked down (external access only below the gold directory,
configuration locked), so a query cannot read or write anything else.

Content fingerprints (an order-independent hash of every row) identify a mart's data across
publications: the result cache keys on them, so a new publication invalidates only the results
whose marts changed.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import polars as pl

from analytics.semantic import QueryError, Relation
from lake.gold import MartNotPublished, Publication
from lake.sql import quote_ident
from lake.sql import quote_literal as quote_text

# The mart whose date column is the publication's event date range (docs/metrics.md "Ranges").
COVERAGE_MART = ("exec_daily_kpis", "kpi_date")
COVERAGE_FALLBACK = ("fct_user_daily", "activity_date")


def time_spine_sql(spine: Relation, start: dt.date | None, end: dt.date | None) -> str:
    column = quote_ident(spine.time_column or "date_day")
    if start is None or end is None or end < start:
        return f"select cast(null as date) as {column} where false"
    return (
        f"select cast(range as date) as {column} from range(date '{start.isoformat()}', "
        f"date '{(end + dt.timedelta(days=1)).isoformat()}', interval 1 day)"
    )


class CatalogDB:
    """An in-memory DuckDB holding views under dbt relation names (base of the two catalogs)."""

    def __init__(self, relations: Mapping[str, Relation]) -> None:
        self.relations = dict(relations)
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        self._lock = threading.Lock()
        self.available: set[str] = set()  # relation names with a view
        for database in sorted({r.database for r in self.relations.values()}):
            self.con.execute(f"ATTACH ':memory:' AS {quote_ident(database)}")
        for schema in sorted({(r.database, r.schema) for r in self.relations.values()}):
            self.con.execute(
                f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema[0])}.{quote_ident(schema[1])}"
            )

    def name_of(self, relation: Relation) -> str:
        return (
            f"{quote_ident(relation.database)}.{quote_ident(relation.schema)}."
            f"{quote_ident(relation.alias)}"
        )

    def create_view(self, relation: Relation, select_sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW {self.name_of(relation)} AS {select_sql}")
        self.available.add(relation.relation_name)

    def lock_down(self, allowed_directories: Iterable[Path]) -> None:
        """Only the given directories readable from SQL; no other files, no ATTACH, no INSTALL,
        no configuration changes from here on."""
        dirs = ", ".join(quote_text(str(Path(d).resolve()) + "/") for d in allowed_directories)
        self.con.execute(f"SET allowed_directories = [{dirs}]")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    def missing(self, relation_names: Iterable[str]) -> list[str]:
        return sorted(
            self.relations[name].alias for name in relation_names if name not in self.available
        )

    def execute(self, sql: str) -> pl.DataFrame:
        cur = self.con.cursor()
        try:
            return cur.sql(sql).pl()
        finally:
            cur.close()

    def scalar_row(self, sql: str) -> tuple:
        cur = self.con.cursor()
        try:
            rows = cur.execute(sql).fetchall()
        finally:
            cur.close()
        return rows[0] if rows else ()

    def close(self) -> None:
        self.con.close()


class PublicationDB(CatalogDB):
    """The marts of one publication, under their dbt relation names."""

    def __init__(
        self, publication: Publication, relations: Mapping[str, Relation], gold_dir: Path
    ) -> None:
        super().__init__(relations)
        self.publication = publication
        for relation in self.relations.values():
            if relation.is_time_spine or relation.alias not in publication.models:
                continue
            path = publication.path / f"{relation.alias}.parquet"
            self.create_view(relation, f"SELECT * FROM read_parquet({quote_text(str(path))})")
        self.coverage = self._coverage(publication)
        spine = next((r for r in self.relations.values() if r.is_time_spine), None)
        if spine is not None:
            start, end = self.coverage if self.coverage else (None, None)
            self.create_view(spine, time_spine_sql(spine, start, end))
        self._fingerprints: dict[str, str] = {}
        self.lock_down([gold_dir])

    def _coverage(self, publication: Publication) -> tuple[dt.date, dt.date] | None:
        for mart, column in (COVERAGE_MART, COVERAGE_FALLBACK):
            if mart not in publication.models:
                continue
            path = publication.path / f"{mart}.parquet"
            row = self.scalar_row(
                f"SELECT min({quote_ident(column)}), max({quote_ident(column)}) "
                f"FROM read_parquet({quote_text(str(path))})"
            )
            if row and row[0] is not None:
                return (row[0], row[1])
        return None

    def fingerprint(self, relation_name: str) -> str:
        """Order-independent content hash of the relation's rows in this publication."""
        with self._lock:
            hit = self._fingerprints.get(relation_name)
        if hit is not None:
            return hit
        relation = self.relations[relation_name]
        if relation.is_time_spine:
            value = f"spine:{self.coverage}"
        elif relation_name not in self.available:
            value = "missing"
        else:
            count, total = self.scalar_row(
                f"SELECT count(*), coalesce(sum(hash(t)), 0) FROM {self.name_of(relation)} t"
            )
            value = f"{count}:{total}"
        with self._lock:
            self._fingerprints[relation_name] = value
        return value

    def check_available(self, relation_names: Iterable[str]) -> None:
        missing = self.missing(relation_names)
        if missing:
            raise MartNotPublished(
                f"publication {self.publication.id} has no {', '.join(missing)}: run "
                "`pulse materialize` to build and publish it"
            )


def run_checked(db: CatalogDB, sql: str) -> pl.DataFrame:
    try:
        return db.execute(sql)
    except duckdb.Error as exc:
        raise QueryError(f"DuckDB failed to run the metric query: {exc}") from exc
