"""Pulse analytics: the one query layer over the gold publication and the metric catalogue.

Every reader — dashboards now; the BI API, exports, reports and the explorer later — gets its
numbers here, so a number is the same everywhere::

    from analytics import QueryLayer

    ql = QueryLayer(settings, page="executive", role="viewer")
    result = ql.metrics(["dau", "net_revenue"], grain="day", start=..., end=...,
                        filters={"country": "US"}, compare="previous_period")
    result.frame          # polars: period, dau, net_revenue, source='published'
    result.live           # today so far from bronze (source='live'), or None
    result.freshness      # publication id, data range, live window
    ql.catalogue()        # MetricInfo: label, unit, format, direction, docs link, segments, ...

Metrics are defined once, as MetricFlow semantic models and metrics in
``dbt_project/models/semantic/`` (docs/metrics.md has each metric's entry). Layering: this package
imports the settings, ``lake`` and third-party libraries only.
"""

from analytics.catalogue import SEGMENTS, CatalogueError, MetricInfo
from analytics.filters import FilterError
from analytics.query import Freshness, MetricsResult, QueryLayer, TableResult
from analytics.querylog import QueryLogSummary, read_query_log, summarize
from analytics.semantic import QueryError
from lake.gold import MartNotPublished

__all__ = [
    "SEGMENTS",
    "CatalogueError",
    "FilterError",
    "Freshness",
    "MartNotPublished",
    "MetricInfo",
    "MetricsResult",
    "QueryError",
    "QueryLayer",
    "QueryLogSummary",
    "TableResult",
    "read_query_log",
    "summarize",
]
