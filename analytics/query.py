"""The query layer: one way for every reader to get a metric's numbers.

``QueryLayer(settings).metrics(["dau", "net_revenue"], grain="day", start=..., end=...,
filters={"country": "US"}, group_by=["platform"], compare="previous_period")`` returns a
:class:`MetricsResult`: a polars DataFrame of the published history, the "today so far" values
from bronze beside it (labelled ``source = 'live'``), the freshness of both and what was filtered.

How a call is answered (docs/architecture.md, "Query layer"):

1. The current gold publication is resolved (``lake.gold``; honours ``gold.pinned``) and served
   under dbt's relation names (:class:`analytics.publication.PublicationDB`).
2. Each metric's filters and groupings are mapped onto dimensions the semantic manifest lists for
   it (global segments via ``meta: segment:``); a segment a metric cannot be filtered by is
   reported in ``unfiltered`` (or refused with ``strict=True``). Metrics sharing the same
   filters and groupings are compiled together by MetricFlow.
3. Metrics that MetricFlow can aggregate over any range run as MetricFlow compiled them.
   Cumulative metrics (DAU, WAU, MAU) and metrics computed from them (stickiness) are asked for
   per day and aggregated here the way their definition says (``period_agg``: DAU averaged over
   every day of the period, WAU/MAU the last day's), because MetricFlow cannot total them over a
   range without a grain and, with a grouping, averages only over the days a group has rows.
4. Results are cached under (query, parameters, the content fingerprints of the marts the SQL
   reads in this publication): a new publication re-runs only the queries whose marts changed.
5. When the range reaches the end of the published data, metrics over the user-level marts are
   also answered for the days since (today so far) from bronze (:mod:`analytics.live`).
6. The call is logged to ``system/query_log`` (:mod:`analytics.querylog`).

Buckets at a grain are whole calendar periods (ISO weeks from Monday, months, ...) overlapping
``start .. end``, as MetricFlow makes them; a range total covers exactly ``start .. end``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from analytics.cache import ResultCache
from analytics.catalogue import GRAINS, SEGMENTS, MetricInfo
from analytics.filters import (
    FilterError,
    check_dimension_name,
    normalize_values,
    select_sql,
    where_clauses,
)
from analytics.filters import quote_literal as _sql_literal
from analytics.live import LIVE_MARTS, EventCatalog, LiveDB, live_window, read_bronze_events
from analytics.publication import CatalogDB, PublicationDB, run_checked
from analytics.querylog import QueryLogger
from analytics.semantic import Compiled, QueryError, SemanticLayer
from core.settings import Settings
from lake import gold
from lake.sql import quote_literal as quote_text

GRAIN_ORDER = {g: i for i, g in enumerate(GRAINS)}
_TRUNCATE = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}
COMPARE = ("previous_period", "previous_year")
PERIOD = "period"
SOURCE = "source"
_KEY = "__row"


@dataclass(frozen=True)
class Freshness:
    """Where the numbers come from and how recent they are."""

    publication_id: str | None
    published_at: str | None
    data_start: dt.date | None  # the publication's first and last event day
    data_end: dt.date | None
    live_start: dt.date | None = None  # the days answered from bronze (today so far)
    live_end: dt.date | None = None
    live_events_through: dt.datetime | None = None  # newest bronze event read
    live_events: int | None = None
    bronze_version: int | None = None


@dataclass(frozen=True)
class TableResult:
    """The rows of one :meth:`QueryLayer.table` call."""

    mart: str
    frame: pl.DataFrame
    freshness: Freshness
    cache_hit: bool = False
    duration_ms: float = 0.0


@dataclass(frozen=True)
class MetricsResult:
    """The answer to one :meth:`QueryLayer.metrics` call.

    ``frame`` holds the published history: a ``period`` column (the bucket's first day) when a
    grain was asked, one column per ``group_by`` key, one column per metric and ``source``
    ('published'). ``live`` holds the same columns for the live days (``source`` 'live': per day
    when a grain was asked, else the total of the live window), or None.
    """

    metrics: tuple[MetricInfo, ...]
    grain: str | None
    start: dt.date
    end: dt.date
    frame: pl.DataFrame
    live: pl.DataFrame | None
    freshness: Freshness
    filters: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    applied: Mapping[str, Mapping[str, tuple[Any, ...]]] = field(default_factory=dict)
    unfiltered: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    group_by: tuple[str, ...] = ()
    previous: MetricsResult | None = None
    cache_hit: bool = False
    duration_ms: float = 0.0
    sql: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)

    def info(self, metric: str) -> MetricInfo:
        return next(m for m in self.metrics if m.name == metric)

    def value(self, metric: str) -> float | None:
        """The published total of ``metric`` (a call without grain and grouping)."""
        return _single(self.frame, metric)

    def live_value(self, metric: str) -> float | None:
        """Today so far (the live window's total), or None when nothing is live."""
        if self.live is None or metric not in self.live.columns:
            return None
        return _single(self.live, metric)

    def change(self, metric: str) -> float | None:
        """Relative change against ``previous``; None without a comparable base (no previous
        result, a zero or missing value, or a previous period the data does not fully cover)."""
        if self.previous is None:
            return None
        fresh = self.previous.freshness
        if fresh.data_start is None or self.previous.start < fresh.data_start:
            return None
        current, before = self.value(metric), self.previous.value(metric)
        if current is None or before is None or before == 0:
            return None
        return (current - before) / abs(before)

    def combined(self) -> pl.DataFrame:
        """Published and live rows in one frame (``source`` says which), for a daily series or
        totals; published rows of the live days (a partial day in gold) give way to the live
        ones. Live rows are per day, so a weekly or monthly result keeps them apart."""
        if self.live is None or self.live.is_empty():
            return self.frame
        if self.grain not in (None, "day"):
            raise ValueError(
                f"live rows are daily: combine them with a daily result, not a {self.grain}ly one"
            )
        published = self.frame
        if PERIOD in published.columns and self.freshness.live_start is not None:
            published = published.filter(pl.col(PERIOD) < self.freshness.live_start)
        live = self.live.select([c for c in published.columns if c in self.live.columns])
        return pl.concat([published, live], how="diagonal_relaxed")


def _single(frame: pl.DataFrame, metric: str) -> float | None:
    if metric not in frame.columns:
        raise KeyError(f"{metric!r} is not in this result ({', '.join(frame.columns)})")
    if frame.height != 1:
        raise ValueError(
            f"{metric!r} has {frame.height} rows here: value() is for totals (no grain, no group_by)"
        )
    value = frame[metric][0]
    return None if value is None else float(value)


@dataclass(frozen=True)
class _Part:
    """Metrics answered by one MetricFlow compilation: same filters, same groupings."""

    kind: str  # native | period
    metrics: tuple[str, ...]
    where: tuple[str, ...]
    dims: tuple[tuple[str, str], ...]  # (dimension, output column)


@dataclass(frozen=True)
class _Prepared:
    """A part with its compiled SQL (see ``QueryLayer._prepare``)."""

    part: _Part
    grain: str | None
    first: dt.date
    last: dt.date
    cumulative: tuple[str, ...] = ()
    aggs: tuple[tuple[str, str], ...] = ()
    native: tuple[str, ...] = ()
    daily_sql: Compiled | None = None
    native_sql: Compiled | None = None
    empty: bool = False

    @property
    def compiled(self) -> tuple[Compiled, ...]:
        return tuple(c for c in (self.daily_sql, self.native_sql) if c is not None)

    @property
    def relations(self) -> tuple[str, ...]:
        return tuple(sorted({r for c in self.compiled for r in c.relations}))


class QueryLayer:
    """DuckDB over the current gold publication, MetricFlow for the SQL, a cache and a log.

    Safe to share between threads (one per process: Streamlit ``st.cache_resource``, the API
    app state). ``page`` and ``role`` label the query log; each call may override them.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        semantic_manifest: Path | str | None = None,
        dbt_manifest: Path | str | None = None,
        page: str | None = None,
        role: str | None = None,
        cache_entries: int = 1024,
        log_queries: bool = True,
        log_flush_seconds: float = 5.0,
        live: bool = True,
        live_max_days: int = 7,
        live_ttl_seconds: float = 5.0,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        self.settings = settings
        self.semantic = SemanticLayer(semantic_manifest)
        self.page = page
        self.role = role
        self.cache = ResultCache(cache_entries)
        self.log = QueryLogger(settings, flush_seconds=log_flush_seconds, enabled=log_queries)
        self.live_enabled = live
        self.live_max_days = live_max_days
        self.live_ttl_seconds = live_ttl_seconds
        self._today = today or (lambda: dt.datetime.now(dt.UTC).date())
        self._dbt_manifest = Path(dbt_manifest) if dbt_manifest else None
        self._events: EventCatalog | None = None
        self._lock = threading.Lock()
        self._dbs: OrderedDict[str, PublicationDB] = OrderedDict()
        self._live: dict[tuple[str, dt.date, dt.date], tuple[LiveDB, int | None, float]] = {}
        self._expr = duckdb.connect(":memory:")  # evaluates derived expressions over results
        self._expr_lock = threading.Lock()

    # ---- catalogue ---------------------------------------------------------------------------
    def catalogue(self) -> list[MetricInfo]:
        """Every metric of the semantic manifest, with label, unit, format, direction, docs link,
        dimensions and segments; ``live`` says whether it answers today so far."""
        return [self._with_live(info) for info in self.semantic.catalogue().values()]

    def info(self, name: str) -> MetricInfo:
        return self._with_live(self.semantic.info(name))

    @staticmethod
    def _with_live(info: MetricInfo) -> MetricInfo:
        live = bool(info.marts) and set(info.marts) <= set(LIVE_MARTS)
        return info if info.live == live else replace(info, live=live)

    # ---- publication -------------------------------------------------------------------------
    def publication_db(self) -> PublicationDB:
        """The in-memory DuckDB over the current (or pinned) publication."""
        publication = gold.current(self.settings)
        with self._lock:
            db = self._dbs.get(publication.id)
            if db is not None:
                self._dbs.move_to_end(publication.id)
                return db
        db = PublicationDB(publication, self.semantic.relations, self.settings.gold_dir)
        with self._lock:
            db = self._dbs.setdefault(publication.id, db)
            while len(self._dbs) > 2:  # in-flight queries keep their own reference
                self._dbs.popitem(last=False)
        return db

    # ---- queries -----------------------------------------------------------------------------
    def metric(self, name: str, **kwargs: Any) -> MetricsResult:
        """One metric: ``metrics([name], ...)``."""
        return self.metrics([name], **kwargs)

    def metrics(
        self,
        names: Sequence[str] | str,
        grain: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        filters: Mapping[str, Any] | None = None,
        group_by: Sequence[str] | str = (),
        compare: str | None = None,
        live: bool = True,
        page: str | None = None,
        role: str | None = None,
        strict: bool = False,
    ) -> MetricsResult:
        """Metric values over ``start .. end`` (inclusive dates; default: the published data's
        range), per ``grain`` bucket (day, week, month, quarter, year) or as totals (None),
        filtered (``{"country": "US", "platform": ["ios", "android"]}``: global segments or
        entity__dimension names) and grouped. ``compare`` adds ``previous`` ('previous_period':
        the same number of days just before; 'previous_year'). ``live`` adds today so far when
        the range reaches the end of the published data."""
        t0 = time.perf_counter()
        page = page if page is not None else self.page
        role = role if role is not None else self.role
        names = [names] if isinstance(names, str) else list(names)
        group_by = (group_by,) if isinstance(group_by, str) else tuple(group_by)
        log_row: dict[str, Any] = {
            "metrics": ",".join(n.lower() for n in names),
            "grain": grain,
            "group_by": ",".join(group_by) or None,
            "page": page,
            "role": role,
            "start_date": start,
            "end_date": end,
        }
        stats = {"parts": 0, "cached": 0, "compile_ms": 0.0, "execute_ms": 0.0}
        try:
            result = self._metrics(
                names,
                grain,
                start,
                end,
                filters,
                group_by,
                compare,
                live,
                strict,
                stats,
                log_row,
                page,
                role,
            )
        except Exception as exc:
            self._log(log_row, stats, t0, error=f"{type(exc).__name__}: {exc}"[:1000])
            raise
        result = replace(result, duration_ms=(time.perf_counter() - t0) * 1000)
        self._log(log_row, stats, t0, result=result)
        return result

    def _metrics(
        self,
        names: list[str],
        grain: str | None,
        start: dt.date | None,
        end: dt.date | None,
        filters: Mapping[str, Any] | None,
        group_by: tuple[str, ...],
        compare: str | None,
        live: bool,
        strict: bool,
        stats: dict[str, Any],
        log_row: dict[str, Any],
        page: str | None,
        role: str | None,
    ) -> MetricsResult:
        if not names:
            raise QueryError("no metric asked for")
        infos = list({i.name: i for i in (self.info(n) for n in names)}.values())
        if grain is not None:
            if grain not in GRAIN_ORDER:
                raise QueryError(f"unknown grain {grain!r}: use one of {', '.join(GRAINS)} or None")
            for info in infos:
                if GRAIN_ORDER[grain] < GRAIN_ORDER[info.time_grain]:
                    raise QueryError(
                        f"{info.name} is defined per {info.time_grain}: ask for grain "
                        f"{info.time_grain} or coarser, or for a total (grain None)"
                    )
        if compare is not None and compare not in COMPARE:
            raise QueryError(f"unknown compare {compare!r}: use one of {', '.join(COMPARE)}")
        normalized = _normalize_filters(filters or {})
        log_row["filters"] = json.dumps(
            {k: list(v) for k, v in normalized.items()}, default=str, sort_keys=True
        )
        db = self.publication_db()
        log_row["publication_id"] = db.publication.id
        coverage = db.coverage
        end_given = end
        end = end or (coverage[1] if coverage else self._today())
        start = start or (coverage[0] if coverage else end)
        if start > end:
            raise QueryError(f"start {start} is after end {end}")
        log_row.update(start_date=start, end_date=end)

        parts, applied, unfiltered = self._plan(infos, normalized, group_by, strict)
        keys = ([PERIOD] if grain else []) + list(group_by)
        frame, sqls = self._run_parts(
            db, parts, grain, start, end, coverage, keys, [i.name for i in infos], stats
        )
        frame = frame.with_columns(pl.lit("published").alias(SOURCE))

        freshness = Freshness(
            publication_id=db.publication.id,
            published_at=db.publication.published_at,
            data_start=coverage[0] if coverage else None,
            data_end=coverage[1] if coverage else None,
        )
        live_frame = None
        if live and self.live_enabled and (end_given is None or (coverage and end >= coverage[1])):
            live_frame, freshness = self._run_live(
                db, infos, parts, grain, start, end_given, keys, freshness, stats
            )

        previous = None
        if compare is not None:
            prev_start, prev_end = _previous_window(start, end, compare)
            previous = self.metrics(
                [i.name for i in infos],
                grain=grain,
                start=prev_start,
                end=prev_end,
                filters=filters,
                group_by=group_by,
                live=False,
                page=page,
                role=role,
                strict=strict,
            )
        return MetricsResult(
            metrics=tuple(infos),
            grain=grain,
            start=start,
            end=end,
            frame=frame,
            live=live_frame,
            freshness=freshness,
            filters=normalized,
            applied=applied,
            unfiltered=unfiltered,
            group_by=group_by,
            previous=previous,
            cache_hit=stats["parts"] > 0 and stats["cached"] == stats["parts"],
            sql=tuple(sqls),
        )

    # ---- planning ----------------------------------------------------------------------------
    def _plan(
        self,
        infos: list[MetricInfo],
        filters: Mapping[str, tuple[Any, ...]],
        group_by: tuple[str, ...],
        strict: bool,
    ) -> tuple[list[_Part], dict[str, dict[str, tuple[Any, ...]]], dict[str, tuple[str, ...]]]:
        grouped: OrderedDict[tuple[Any, ...], list[str]] = OrderedDict()
        applied: dict[str, dict[str, tuple[Any, ...]]] = {}
        unfiltered: dict[str, tuple[str, ...]] = {}
        for info in infos:
            mine: dict[str, tuple[Any, ...]] = {}
            missing = []
            for key, values in filters.items():
                dim = _resolve(info, key)
                if dim is None:
                    if strict:
                        raise QueryError(
                            f"{info.name} cannot be filtered by {key!r}; its segments: "
                            f"{', '.join(info.segments) or 'none'}"
                        )
                    missing.append(key)
                else:
                    mine[dim] = values
            dims = []
            for key in group_by:
                dim = _resolve(info, key)
                if dim is None:
                    raise QueryError(
                        f"{info.name} cannot be grouped by {key!r}; it can be grouped by: "
                        f"{', '.join([*info.segments, *info.dimensions]) or 'time only'}"
                    )
                dims.append((dim, key))
            applied[info.name] = mine
            if missing:
                unfiltered[info.name] = tuple(missing)
            kind = "period" if self.semantic.index.needs_metric_time(info.name) else "native"
            # Metrics of different finest grains compile apart: MetricFlow widens a query's time
            # range to whole buckets of its coarsest metric, so a monthly metric compiled with a
            # daily one would stretch the daily one's range to whole months.
            key = (kind, where_clauses(mine), tuple(dims), info.time_grain)
            grouped.setdefault(key, []).append(info.name)
        parts = [
            _Part(kind=k[0], metrics=tuple(m), where=k[1], dims=k[2]) for k, m in grouped.items()
        ]
        return parts, applied, unfiltered

    # ---- execution ---------------------------------------------------------------------------
    def _compile(self, stats: dict[str, Any], *args: Any) -> Compiled:
        t0 = time.perf_counter()
        compiled = self.semantic.compile(*args)
        stats["compile_ms"] += (time.perf_counter() - t0) * 1000
        return compiled

    def _prepare(
        self,
        part: _Part,
        grain: str | None,
        start: dt.date,
        end: dt.date,
        coverage: tuple[dt.date, dt.date] | None,
        stats: dict[str, Any],
    ) -> _Prepared:
        """The SQL of one part. Native parts are what MetricFlow compiles. Period parts (metrics
        needing metric_time) ask for their cumulative leaves per day over the whole buckets
        within the data, and for any other input at the grain over the same days."""
        dims = tuple(d for d, _ in part.dims)
        if part.kind == "native":
            group = ((f"metric_time__{grain}",) if grain else ()) + dims
            compiled = self._compile(stats, part.metrics, group, start, end, part.where, group)
            return _Prepared(part, grain, start, end, native=part.metrics, native_sql=compiled)
        index = self.semantic.index
        cumulative: list[str] = []
        native: list[str] = []

        def leaves(name: str) -> None:
            if index.is_cumulative(name):
                cumulative.append(name)
            elif index.needs_metric_time(name):
                metric = index.metric(name)
                for child in (metric.get("type_params") or {}).get("metrics") or []:
                    if child.get("filter") or child.get("offset_window") or child.get("alias"):
                        raise QueryError(
                            f"{name}: inputs with filters, aliases or offsets are not supported "
                            "over cumulative metrics by the query layer"
                        )
                for child in index.input_metrics(name):
                    leaves(child)
            else:
                native.append(name)

        for name in part.metrics:
            leaves(name)
        first, last = _bucket_range(start, end, grain)
        if coverage is not None:
            first, last = max(first, coverage[0]), min(last, coverage[1])
        if first > last:
            return _Prepared(part, grain, first, last, empty=True)
        cumulative = list(dict.fromkeys(cumulative))
        native = list(dict.fromkeys(native))
        group = ("metric_time__day", *dims)
        daily = self._compile(stats, tuple(cumulative), group, first, last, part.where, group)
        native_sql = None
        if native:
            ngroup = ((f"metric_time__{grain}",) if grain else ()) + dims
            native_sql = self._compile(
                stats, tuple(native), ngroup, first, last, part.where, ngroup
            )
        return _Prepared(
            part,
            grain,
            first,
            last,
            cumulative=tuple(cumulative),
            aggs=tuple((n, index.period_agg(n)) for n in cumulative),
            native=tuple(native),
            daily_sql=daily,
            native_sql=native_sql,
        )

    def _fingerprints(self, db: CatalogDB, relations: Iterable[str]) -> tuple[Any, ...]:
        if isinstance(db, PublicationDB):
            db.check_available(relations)
            return tuple((r, db.fingerprint(r)) for r in relations)
        missing = db.missing(relations)
        if missing:
            raise QueryError(f"no live data for {', '.join(missing)}")
        return tuple(relations)

    def _execute_part(self, db: CatalogDB, prep: _Prepared) -> pl.DataFrame:
        part = prep.part
        keys = ([PERIOD] if prep.grain else []) + [out for _, out in part.dims]
        if prep.empty:
            return pl.DataFrame(
                {k: [] for k in keys} | {m: pl.Series([], dtype=pl.Float64) for m in part.metrics}
            )
        time_col = f"metric_time__{prep.grain}" if prep.grain else None
        frames = []
        if prep.daily_sql is not None:
            daily = _shape(
                run_checked(db, prep.daily_sql.sql), "metric_time__day", part.dims, prep.cumulative
            )
            frames.append(
                _aggregate_days(
                    daily,
                    dict(prep.aggs),
                    prep.grain,
                    prep.first,
                    prep.last,
                    [out for _, out in part.dims],
                )
            )
        if prep.native_sql is not None:
            native = run_checked(db, prep.native_sql.sql)
            frames.append(_shape(native, time_col, part.dims, prep.native))
        frame = _join(frames, keys, [*prep.cumulative, *prep.native])
        if part.kind == "period":
            for name in part.metrics:
                frame = self._evaluate(frame, name)
            frame = frame.select(*keys, *part.metrics)
        return frame

    def _run_parts(
        self,
        db: CatalogDB,
        parts: Sequence[_Part],
        grain: str | None,
        start: dt.date,
        end: dt.date,
        coverage: tuple[dt.date, dt.date] | None,
        keys: list[str],
        names: Sequence[str],
        stats: dict[str, Any],
        cache_tag: tuple[Any, ...] | None = None,
        ttl: float | None = None,
    ) -> tuple[pl.DataFrame, list[str]]:
        """All parts of a call, each cached on its own (shared with other calls), and the joined
        result cached under the parts' keys (a repeated call is one lookup)."""
        preps = [self._prepare(part, grain, start, end, coverage, stats) for part in parts]
        part_keys = [
            (
                "part",
                prep.part.metrics,
                prep.grain,
                prep.first,
                prep.last,
                tuple(c.sql for c in prep.compiled),
                self._fingerprints(db, prep.relations),
                cache_tag,
            )
            for prep in preps
        ]
        sqls = [c.sql for prep in preps for c in prep.compiled]
        stats["parts"] += len(preps)
        call_key = ("call", tuple(part_keys), tuple(keys), tuple(names))
        hit = self.cache.get(call_key)
        if hit is not None:
            stats["cached"] += len(preps)
            return hit, sqls
        frames = []
        for prep, key in zip(preps, part_keys, strict=True):
            frame = self.cache.get(key)
            if frame is None:
                t0 = time.perf_counter()
                frame = self._execute_part(db, prep)
                stats["execute_ms"] += (time.perf_counter() - t0) * 1000
                self.cache.put(key, frame, rows=frame.height, ttl=ttl)
            else:
                stats["cached"] += 1
            frames.append(frame)
        frame = _join(frames, keys, names)
        self.cache.put(call_key, frame, rows=frame.height, ttl=ttl)
        return frame, sqls

    def _evaluate(self, frame: pl.DataFrame, name: str) -> pl.DataFrame:
        """Adds ``name`` computed from its inputs' columns (ratio or derived expression)."""
        if name in frame.columns:
            return frame
        index = self.semantic.index
        for child in index.input_metrics(name):
            frame = self._evaluate(frame, child)
        metric = index.metric(name)
        params = metric.get("type_params") or {}
        if metric["type"] == "ratio":
            num, den = index.input_metrics(name)
            expr = f'CAST("{num}" AS DOUBLE) / CAST(NULLIF("{den}", 0) AS DOUBLE)'
        elif metric["type"] == "derived":
            expr = params["expr"]
        else:  # pragma: no cover - leaves are computed before
            raise QueryError(f"cannot compute {name} from the period's parts")
        with self._expr_lock:
            self._expr.register("parts", frame.to_arrow())
            try:
                out = self._expr.sql(f'SELECT *, ({expr}) AS "{name}" FROM parts').pl()
            finally:
                self._expr.unregister("parts")
        return out

    # ---- live (today so far) -----------------------------------------------------------------
    def _events_catalog(self) -> EventCatalog:
        if self._events is None:
            self._events = EventCatalog.from_dbt_manifest(self._dbt_manifest)
        return self._events

    def live_db(
        self, db: PublicationDB, window: tuple[dt.date, dt.date]
    ) -> tuple[LiveDB, int | None]:
        """The live catalog for ``window`` (rebuilt when bronze moved on, checked every
        ``live_ttl_seconds``)."""
        key = (db.publication.id, *window)
        now = time.monotonic()
        with self._lock:
            cached = self._live.get(key)
        if cached is not None and now - cached[2] < self.live_ttl_seconds:
            return cached[0], cached[1]
        path = self.settings.table_path("bronze", "events")
        if cached is not None:
            from deltalake import DeltaTable

            version = (
                DeltaTable(str(path)).version() if DeltaTable.is_deltatable(str(path)) else None
            )
            if version == cached[1]:
                with self._lock:
                    self._live[key] = (cached[0], cached[1], now)
                return cached[0], cached[1]
        bronze, version = read_bronze_events(path, *window)
        live = LiveDB(
            db,
            self.semantic.relations,
            self._events_catalog(),
            bronze,
            window,
            self.settings.gold_dir,
        )
        with self._lock:
            self._live = {k: v for k, v in self._live.items() if k[0] == db.publication.id}
            self._live[key] = (live, version, now)
        return live, version

    def _run_live(
        self,
        db: PublicationDB,
        infos: list[MetricInfo],
        parts: list[_Part],
        grain: str | None,
        start: dt.date,
        end_given: dt.date | None,
        keys: list[str],
        freshness: Freshness,
        stats: dict[str, Any],
    ) -> tuple[pl.DataFrame | None, Freshness]:
        window = live_window(freshness.data_end, self._today(), self.live_max_days)
        live_names = {i.name for i in infos if i.live}
        if window is None or not live_names:
            return None, freshness
        first = max(window[0], start)
        last = min(window[1], end_given) if end_given else window[1]
        if first > last:
            return None, freshness
        live_db, version = self.live_db(db, window)
        live_parts = [
            replace(part, metrics=tuple(m for m in part.metrics if m in live_names))
            for part in parts
            if any(m in live_names for m in part.metrics)
        ]
        freshness = replace(
            freshness,
            live_start=first,
            live_end=last,
            live_events_through=live_db.events_through,
            live_events=live_db.event_count,
            bronze_version=version,
        )
        if not live_parts:
            return None, freshness
        live_grain = "day" if grain else None
        live_keys = ([PERIOD] if grain else []) + [k for k in keys if k != PERIOD]
        names = [i.name for i in infos if i.live]
        frame, _ = self._run_parts(
            live_db,
            live_parts,
            live_grain,
            first,
            last,
            (first, last),
            live_keys,
            names,
            stats,
            cache_tag=("live", db.publication.id, window, version),
            ttl=self.live_ttl_seconds,
        )
        return frame.with_columns(pl.lit("live").alias(SOURCE)), freshness

    # ---- dimension values --------------------------------------------------------------------
    def dimension_values(self, key: str, metric: str | None = None) -> list[Any]:
        """The values of a segment or dimension in the current publication (filter choices),
        sorted. A segment resolves through ``metric`` (default: the first metric that has it)."""
        infos = [self.info(metric)] if metric else list(self.semantic.catalogue().values())
        info, dim = next(
            ((i, d) for i in infos if (d := _resolve(i, key)) is not None), (None, None)
        )
        if info is None or dim is None:
            raise QueryError(f"no metric{' ' + metric if metric else ''} has a dimension {key!r}")
        db = self.publication_db()
        with self.semantic._lock:
            sql = self.semantic.engine.explain_get_dimension_values(
                metric_names=[info.name], get_group_by_values=dim
            ).sql_statement.sql
        relations = self.semantic.relations_in(sql)
        key = ("values", sql, self._fingerprints(db, relations))
        frame = self.cache.get(key)
        if frame is None:
            frame = run_checked(db, sql)
            self.cache.put(key, frame, rows=frame.height)
        return sorted(frame[frame.columns[0]].to_list(), key=lambda v: (v is None, str(v)))

    # ---- mart tables -----------------------------------------------------------------------
    def table(
        self,
        mart: str,
        *,
        columns: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        between: tuple[str, dt.date | None, dt.date | None] | None = None,
        order_by: Sequence[str] | str = (),
        descending: bool = False,
        limit: int | None = None,
        page: str | None = None,
        role: str | None = None,
    ) -> TableResult:
        """Rows of a published mart, for what is not a metric (a cohort matrix, the screen
        paths, a program table): ``columns`` of ``mart`` where each ``where`` column is one of
        the given values and ``between = (date column, first, last)``, ordered and limited.
        Names are checked against the mart's schema and values are bound as literals, cached
        under (query, publication id) and logged like a metric query."""
        t0 = time.perf_counter()
        page = page if page is not None else self.page
        role = role if role is not None else self.role
        row: dict[str, Any] = {
            "metrics": f"table:{mart}",
            "grain": None,
            "group_by": None,
            "page": page,
            "role": role,
            "start_date": between[1] if between else None,
            "end_date": between[2] if between else None,
            "filters": json.dumps(
                {k: normalize_values(v) for k, v in (where or {}).items()},
                default=str,
                sort_keys=True,
            ),
        }
        stats = {"parts": 1, "cached": 0, "compile_ms": 0.0, "execute_ms": 0.0}
        try:
            db = self.publication_db()
            row["publication_id"] = db.publication.id
            if mart not in db.publication.models:
                raise gold.MartNotPublished(
                    f"mart {mart!r} is not in publication {db.publication.id}: "
                    f"published marts are {', '.join(sorted(db.publication.models))}"
                )
            source = f"read_parquet({quote_text(str(db.publication.path / f'{mart}.parquet'))})"
            schema = self._mart_schema(db, mart, source)
            try:
                sql, _ = select_sql(
                    source,
                    list(schema),
                    label=mart,
                    columns=columns,
                    where=where,
                    between=between,
                    order_by=order_by,
                    descending=descending,
                    limit=limit,
                    literal=_sql_literal,
                )
            except FilterError as exc:
                raise QueryError(str(exc)) from None
            key = ("table", db.publication.id, sql)
            frame = self.cache.get(key)
            if frame is not None:
                stats["cached"] = 1
            else:
                t1 = time.perf_counter()
                frame = run_checked(db, sql)
                stats["execute_ms"] = (time.perf_counter() - t1) * 1000
                self.cache.put(key, frame, rows=frame.height)
        except Exception as exc:
            self._log(row, stats, t0, error=f"{type(exc).__name__}: {exc}"[:1000])
            raise
        self._log(row, stats, t0, rows=frame.height, source="published")
        return TableResult(
            mart=mart,
            frame=frame,
            freshness=Freshness(
                publication_id=db.publication.id,
                published_at=db.publication.published_at,
                data_start=db.coverage[0] if db.coverage else None,
                data_end=db.coverage[1] if db.coverage else None,
            ),
            cache_hit=stats["cached"] == 1,
            duration_ms=(time.perf_counter() - t0) * 1000,
        )

    def _mart_schema(self, db: CatalogDB, mart: str, source: str) -> dict[str, str]:
        key = ("schema", db.publication.id, mart)
        schema = self.cache.get(key)
        if schema is None:
            described = run_checked(db, f"DESCRIBE SELECT * FROM {source}")
            schema = dict(zip(described["column_name"], described["column_type"], strict=True))
            self.cache.put(key, schema)
        return schema

    # ---- log and shutdown --------------------------------------------------------------------
    def _log(
        self,
        row: dict[str, Any],
        stats: dict[str, Any],
        t0: float,
        result: MetricsResult | None = None,
        error: str | None = None,
        rows: int | None = None,
        source: str | None = None,
    ) -> None:
        shape = {
            "metrics": sorted(row["metrics"].split(",")),
            "grain": row.get("grain"),
            "group_by": row.get("group_by"),
            "filters": sorted(json.loads(row.get("filters") or "{}")),
        }
        label = f"{row['metrics']} | {row.get('grain') or 'total'}"
        if row.get("group_by"):
            label += f" by {row['group_by']}"
        if shape["filters"]:
            label += f" where {','.join(shape['filters'])}"
        rows = rows or 0
        source = source or "none"
        if result is not None:
            rows = result.frame.height + (result.live.height if result.live is not None else 0)
            source = "published+live" if result.live is not None else "published"
        self.log.record(
            {
                **row,
                "query_id": hashlib.sha1(json.dumps(shape, sort_keys=True).encode()).hexdigest()[
                    :16
                ],
                "query": label,
                "source": source,
                "cache_hit": stats["parts"] > 0 and stats["cached"] == stats["parts"],
                "cached_parts": stats["cached"],
                "parts": stats["parts"],
                "rows": rows,
                "duration_ms": (time.perf_counter() - t0) * 1000,
                "compile_ms": stats["compile_ms"],
                "execute_ms": stats["execute_ms"],
                "error": error,
            }
        )

    def close(self) -> None:
        """Write the buffered query log."""
        self.log.close()

    def __enter__(self) -> QueryLayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- helpers (pure) ----------------------------------------------------------------------------
def _normalize_filters(filters: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    out = {}
    for key, value in filters.items():
        if not isinstance(key, str):
            raise FilterError(f"filter keys are segment or dimension names, not {key!r}")
        if key not in SEGMENTS:
            check_dimension_name(key)
        out[key] = normalize_values(value)
    return dict(sorted(out.items()))


def _resolve(info: MetricInfo, key: str) -> str | None:
    """The metric's dimension for a global segment or an entity__dimension name."""
    if key in SEGMENTS:
        return info.segments.get(key)
    return key if key in info.dimensions else None


def _previous_window(start: dt.date, end: dt.date, compare: str) -> tuple[dt.date, dt.date]:
    if compare == "previous_period":
        days = (end - start).days + 1
        return start - dt.timedelta(days=days), start - dt.timedelta(days=1)
    return _year_before(start), _year_before(end)


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _bucket_range(start: dt.date, end: dt.date, grain: str | None) -> tuple[dt.date, dt.date]:
    """Whole buckets of ``grain`` overlapping start .. end (as MetricFlow makes them)."""
    if grain is None or grain == "day":
        return start, end
    first = _truncate(start, grain)
    nxt = _truncate(end, grain)
    # the day before the next bucket's start
    probe = end
    while _truncate(probe + dt.timedelta(days=1), grain) == nxt:
        probe += dt.timedelta(days=1)
    return first, probe


def _truncate(day: dt.date, grain: str) -> dt.date:
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def _shape(
    frame: pl.DataFrame,
    time_col: str | None,
    dims: Sequence[tuple[str, str]],
    metrics: Sequence[str],
) -> pl.DataFrame:
    """MetricFlow's columns → period, the caller's group-by names, the metrics."""
    renames = {d: out for d, out in dims if d != out}
    exprs = []
    if time_col:
        exprs.append(pl.col(time_col).cast(pl.Date).alias(PERIOD))
    exprs += [pl.col(d).alias(renames.get(d, d)) for d, _ in dims]
    exprs += [_numeric(frame, m) for m in metrics]
    out = frame.select(exprs)
    sort = ([PERIOD] if time_col else []) + [out_name for _, out_name in dims]
    return out.sort(sort, nulls_last=True) if sort else out


def _numeric(frame: pl.DataFrame, column: str) -> pl.Expr:
    """DuckDB sums integers as HUGEINT (a decimal in polars): counts back to Int64, other
    decimals to Float64."""
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Decimal):
        return pl.col(column).cast(pl.Int64 if (dtype.scale or 0) == 0 else pl.Float64)
    return pl.col(column)


def _aggregate_days(
    daily: pl.DataFrame,
    aggs: Mapping[str, str],
    grain: str | None,
    first: dt.date,
    last: dt.date,
    dims: Sequence[str],
) -> pl.DataFrame:
    """Daily values → per bucket: 'average' = sum / days of the bucket in range (a day without a
    row counts as zero), 'last'/'first' = the value on the bucket's last/first day (0 if none)."""
    days = pl.DataFrame({"day": pl.date_range(first, last, "1d", eager=True)})
    if grain is None:
        days = days.with_columns(pl.lit(first).alias(PERIOD))
    else:
        days = days.with_columns(pl.col("day").dt.truncate(_TRUNCATE[grain]).alias(PERIOD))
    buckets = days.group_by(PERIOD).agg(
        pl.len().alias("_n"),
        pl.col("day").min().alias("_first"),
        pl.col("day").max().alias("_last"),
    )
    daily = daily.rename({PERIOD: "_day"}).join(
        days.rename({"day": "_day"}), on="_day", how="inner"
    )
    daily = daily.join(buckets, on=PERIOD, how="left")
    exprs = []
    for name, agg in aggs.items():
        value = pl.col(name).cast(pl.Float64).fill_null(0)
        if agg == "average":
            exprs.append((value.sum() / pl.col("_n").first()).alias(name))
        elif agg == "last":
            exprs.append(value.filter(pl.col("_day") == pl.col("_last")).sum().alias(name))
        else:  # first
            exprs.append(value.filter(pl.col("_day") == pl.col("_first")).sum().alias(name))
    keys = [PERIOD, *dims]
    out = daily.group_by(keys).agg(exprs).sort(keys, nulls_last=True)
    if grain is None:
        out = out.drop(PERIOD)
        if not dims and out.is_empty():
            out = pl.DataFrame({name: [0.0] for name in aggs})
    return out


def _join(frames: list[pl.DataFrame], keys: list[str], metrics: Sequence[str]) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame({k: [] for k in keys} | {m: [] for m in metrics})
    if len(frames) == 1:
        return frames[0]
    if not keys:
        frames = [f.with_columns(pl.lit(0).alias(_KEY)) for f in frames]
        keys = [_KEY]
    # An empty part (a range with no rows) comes back with Null-typed keys: give them the type
    # the other parts have, or the join refuses to match Null against Date.
    types = {
        k: next((f.schema[k] for f in frames if f.schema.get(k) not in (None, pl.Null)), None)
        for k in keys
    }
    frames = [
        f.with_columns(
            [
                pl.col(k).cast(t)
                for k, t in types.items()
                if t is not None and f.schema.get(k) == pl.Null
            ]
        )
        for f in frames
    ]
    out = frames[0]
    for other in frames[1:]:
        out = out.join(other, on=keys, how="full", coalesce=True, nulls_equal=True)
    out = out.sort(keys, nulls_last=True)
    return out.drop(_KEY) if _KEY in out.columns else out
