"""The platform-table reader (analytics.system_tables) on Delta tables written the way the
platform writes them: the columns match the writers, a missing table reads empty, reads are
cached until a new commit, names are checked and values bound, and each page query (latest
run per suite, quarantine per day and reason, anomalies, mart freshness) answers right."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pyarrow as pa
import pytest

from analytics.system_tables import SCHEMAS, TABLES, SystemTableError, SystemTables
from core.settings import Settings
from lake import gold
from lake.writer import append_table

UTC = dt.UTC


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _append(settings: Settings, table: str, rows: list[dict], partition_by=None) -> None:
    schema = pa.schema(
        [
            pa.field(n, pl.DataFrame(schema={n: t}).to_arrow().schema[0].type)
            for n, t in SCHEMAS[table].items()
        ]
    )
    data = pa.Table.from_pylist(rows, schema=schema)
    append_table(settings.table_path(*TABLES[table]), data, partition_by=partition_by)


def _result(run: str, suite: str, expectation: str, success: bool, severity: str, at) -> dict:
    return {
        "run_id": run,
        "suite": suite,
        "asset": suite.split(".")[1].removesuffix("_suite"),
        "expectation": expectation,
        "expectation_group": "keys",
        "success": success,
        "observed_value": json.dumps({"unexpected_count": 0 if success else 3}),
        "severity": severity,
        "evaluated_at": at,
    }


def _arrow_types(schema: pa.Schema) -> dict[str, pl.DataType]:
    return dict(pl.from_arrow(schema.empty_table()).schema)  # type: ignore[union-attr]


def test_the_columns_are_the_writers_columns():
    from analytics.querylog import QUERY_LOG_SCHEMA
    from lake.tables import QUARANTINE_SCHEMA
    from orchestration.assets.platform import METRICS_SCHEMA
    from orchestration.monitoring import HOST_TELEMETRY, SERVICE_PROBES
    from quality.anomaly import ANOMALY_SCHEMA
    from quality.results import RESULTS_SCHEMA
    from quality.scores import SCORES_SCHEMA

    assert SCHEMAS["quality_results"] == _arrow_types(RESULTS_SCHEMA)
    assert SCHEMAS["service_probes"] == _arrow_types(SERVICE_PROBES)
    assert SCHEMAS["host_telemetry"] == _arrow_types(HOST_TELEMETRY)
    assert SCHEMAS["quarantine"] == _arrow_types(QUARANTINE_SCHEMA)
    assert SCHEMAS["query_log"] == _arrow_types(QUERY_LOG_SCHEMA)
    assert SCHEMAS["platform_metrics"] == {k: v() for k, v in METRICS_SCHEMA.items()}
    # the assets add when they computed: detected_at, computed_at
    anomalies = dict(SCHEMAS["event_anomalies"])
    assert anomalies.pop("detected_at") == pl.Datetime("us", "UTC")
    assert anomalies == dict(pl.DataFrame(schema=ANOMALY_SCHEMA).schema)
    scores = dict(SCHEMAS["quality_scores"])
    assert scores.pop("computed_at") == pl.Datetime("us", "UTC")
    assert scores == dict(pl.DataFrame(schema=SCORES_SCHEMA).schema)


def test_a_table_that_does_not_exist_yet_reads_empty_with_its_columns(settings):
    tables = SystemTables(settings)
    assert tables.version("service_probes") is None and not tables.exists("service_probes")
    probes = tables.probes(dt.datetime(2026, 1, 1, tzinfo=UTC))
    assert probes.is_empty() and probes.schema == pl.Schema(SCHEMAS["service_probes"])
    assert tables.quarantine_daily().columns == ["received_date", "reason", "messages"]
    assert tables.latest_results().is_empty() and tables.mart_freshness() is None


def test_reads_are_cached_until_a_new_commit(settings):
    clock = Clock()
    tables = SystemTables(settings, version_ttl_seconds=5, clock=clock)
    at = dt.datetime(2026, 2, 1, 12, tzinfo=UTC)
    probe = {"probed_at": at, "service": "collector", "url": "http://x/ready", "ok": True}
    _append(settings, "service_probes", [probe])
    assert tables.probes().height == 1
    first = tables.version("service_probes")
    hits = tables.cache.stats.hits
    assert tables.probes().height == 1 and tables.cache.stats.hits == hits + 1
    _append(settings, "service_probes", [{**probe, "probed_at": at + dt.timedelta(minutes=1)}])
    assert tables.probes().height == 1  # the version check is reused for a few seconds
    clock.now = 6.0
    assert tables.version("service_probes") == first + 1  # type: ignore[operator]
    assert tables.probes().height == 2


def test_names_are_checked_and_values_bound_as_literals(settings):
    tables = SystemTables(settings)
    rows = [
        {"date": dt.date(2026, 2, 1), "category": "host", "name": "cpu_percent_p95",
         "dimension": "it's-a-host", "value": 40.0, "unit": "%", "target": None},
        {"date": dt.date(2026, 2, 2), "category": "uptime", "name": "uptime_percent",
         "dimension": "collector", "value": 99.9, "unit": "%", "target": 99.5},
    ]  # fmt: skip
    _append(settings, "platform_metrics", rows)
    quoted = tables.select("platform_metrics", where={"dimension": "it's-a-host"})
    assert quoted["name"].to_list() == ["cpu_percent_p95"]
    sneaky = tables.select("platform_metrics", where={"dimension": "x' OR '1'='1"})
    assert sneaky.is_empty()
    assert tables.platform_metrics(["uptime"])["value"].to_list() == [99.9]
    assert tables.platform_metrics(start=dt.date(2026, 2, 2))["category"].to_list() == ["uptime"]
    with pytest.raises(SystemTableError, match="has no column"):
        tables.select("platform_metrics", columns=["value; DROP TABLE t"])
    with pytest.raises(SystemTableError, match="no platform table"):
        tables.select("secrets")


def test_latest_results_are_each_suites_newest_run_failures_first(settings):
    old, new = dt.datetime(2026, 2, 1, tzinfo=UTC), dt.datetime(2026, 2, 2, tzinfo=UTC)
    a, b = "marts.fct_sessions_suite", "bronze.events_suite"
    _append(
        settings,
        "quality_results",
        [
            _result("run-1", a, "unique(session_id)", False, "error", old),  # superseded
            _result("run-2", a, "unique(session_id)", True, "error", new),
            _result("run-2", a, "between(duration)", False, "warn", new),
            _result("run-1", b, "not_null(message_id)", False, "error", old),  # b's latest
            _result("run-1", b, "schema", True, "error", old),
        ],
    )
    latest = SystemTables(settings).latest_results()
    assert latest.height == 4
    assert latest.select("suite", "expectation", "success", "severity").rows() == [
        (b, "not_null(message_id)", False, "error"),
        (a, "between(duration)", False, "warn"),
        (b, "schema", True, "error"),
        (a, "unique(session_id)", True, "error"),
    ]


def test_quarantine_per_day_and_reason_with_the_newest_error(settings):
    def row(reason: str, day: int, minute: int, error: str) -> dict:
        at = dt.datetime(2026, 2, day, 10, minute, tzinfo=UTC)
        return {
            "message_id": f"{reason}-{day}-{minute}",
            "reason": reason,
            "payload": json.dumps({"error": error, "message": {"type": "track"}}),
            "source_id": "src_1",
            "collector_id": "local",
            "received_at": at,
            "received_date": at.date(),
        }

    rows = [
        row("missing_event", 1, 0, "track messages need a non-empty event name"),
        row("missing_event", 1, 5, "track messages need a non-empty event name"),
        row("invalid_timestamp", 1, 1, "timestamp is not an ISO-8601 timestamp: 'a'"),
        row("invalid_timestamp", 2, 2, "timestamp is not an ISO-8601 timestamp: 'b'"),
        row("missing_identity", 3, 0, "userId or anonymousId is required"),
    ]
    _append(settings, "quarantine", rows, partition_by=["received_date"])
    tables = SystemTables(settings)
    daily = tables.quarantine_daily(dt.date(2026, 2, 1), dt.date(2026, 2, 2))
    assert daily.rows() == [
        (dt.date(2026, 2, 1), "missing_event", 2),
        (dt.date(2026, 2, 1), "invalid_timestamp", 1),
        (dt.date(2026, 2, 2), "invalid_timestamp", 1),
    ]
    reasons = tables.quarantine_reasons(dt.date(2026, 2, 1), dt.date(2026, 2, 2))
    assert reasons.select("reason", "messages", "example").rows() == [
        ("invalid_timestamp", 2, "timestamp is not an ISO-8601 timestamp: 'b'"),
        ("missing_event", 2, "track messages need a non-empty event name"),
    ]
    assert tables.quarantine_daily()["messages"].sum() == 5


def test_anomalies_by_the_day_their_window_starts_newest_first(settings):
    def row(kind: str, start: dt.datetime) -> dict:
        return {"kind": kind, "series": "Workout Completed", "property": None,
                "window_start": start, "window_end": start + dt.timedelta(minutes=30),
                "observed": 1.0, "expected": 30.0, "p_value": 1e-9, "detected_at": start}  # fmt: skip

    _append(
        settings,
        "event_anomalies",
        [
            row("volume_drop", dt.datetime(2026, 2, 1, 23, 55, tzinfo=UTC)),
            row("missing", dt.datetime(2026, 2, 2, 0, 0, tzinfo=UTC)),
            row("late", dt.datetime(2026, 2, 3, 8, 0, tzinfo=UTC)),
        ],
    )
    tables = SystemTables(settings)
    assert tables.anomalies(dt.date(2026, 2, 2), dt.date(2026, 2, 2))["kind"].to_list() == [
        "missing"
    ]
    assert tables.anomalies()["kind"].to_list() == ["late", "missing", "volume_drop"]


def test_query_log_is_what_read_query_log_returns(settings):
    from analytics.querylog import QueryLogger, read_query_log

    logger = QueryLogger(settings, flush_seconds=0)
    for i in range(3):
        logger.record(
            {"query_id": f"q{i}", "query": "dau | total", "metrics": "dau", "page": "system",
             "source": "published", "cache_hit": i > 0, "cached_parts": 0, "parts": 1,
             "rows": 1, "duration_ms": 10.0 * (i + 1), "compile_ms": 1.0, "execute_ms": 2.0}
        )  # fmt: skip
    logger.flush()
    ours = SystemTables(settings).query_log(dt.date(2026, 1, 1))
    theirs = read_query_log(settings, dt.date(2026, 1, 1)).sort("logged_at")
    assert ours.height == 3 and ours.equals(theirs.select(ours.columns))


def test_mart_freshness_from_the_publications_parquet_statistics(settings):
    days = pa.array([dt.date(2026, 2, 1), dt.date(2026, 2, 28)], pa.date32())
    stamps = pa.array(
        [dt.datetime(2026, 2, 3, tzinfo=UTC), dt.datetime(2026, 2, 27, 23, tzinfo=UTC)],
        pa.timestamp("us", tz="UTC"),
    )
    gold.publish(
        settings,
        {
            "fct_daily": pa.table({"day": days, "n": [1, 2]}),
            "program_stats": pa.table(
                {"first_sold_at": stamps, "last_sold_at": stamps, "n": [1, 2]}
            ),
            "dim_things": pa.table({"id": ["a", "b", "c"]}),
        },
    )
    publication, marts = SystemTables(settings).mart_freshness()  # type: ignore[misc]
    assert publication.id == gold.current_id(settings)
    assert marts.rows() == [
        ("dim_things", 3, None, None),
        ("fct_daily", 2, "day", dt.date(2026, 2, 28)),
        ("program_stats", 2, "last_sold_at", dt.date(2026, 2, 27)),
    ]
