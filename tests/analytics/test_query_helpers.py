"""Pure parts of the query layer: buckets, period aggregation, compare windows, live window,
cache, query-log summary, the live rebuild of fct_user_daily."""

import datetime as dt

import duckdb
import polars as pl
import pytest

from analytics.cache import ResultCache
from analytics.live import EventCatalog, live_user_daily_sql, live_window
from analytics.query import _aggregate_days, _bucket_range, _join, _previous_window
from analytics.querylog import QUERY_LOG_SCHEMA, summarize

D = dt.date


def test_buckets_are_whole_calendar_periods():
    assert _bucket_range(D(2026, 2, 4), D(2026, 2, 10), None) == (D(2026, 2, 4), D(2026, 2, 10))
    assert _bucket_range(D(2026, 2, 4), D(2026, 2, 10), "day") == (D(2026, 2, 4), D(2026, 2, 10))
    # ISO weeks start on Monday: 2026-02-04 is a Wednesday, 2026-02-10 a Tuesday.
    assert _bucket_range(D(2026, 2, 4), D(2026, 2, 10), "week") == (D(2026, 2, 2), D(2026, 2, 15))
    assert _bucket_range(D(2026, 2, 4), D(2026, 3, 1), "month") == (D(2026, 2, 1), D(2026, 3, 31))
    assert _bucket_range(D(2026, 5, 4), D(2026, 5, 4), "quarter") == (D(2026, 4, 1), D(2026, 6, 30))
    assert _bucket_range(D(2026, 5, 4), D(2026, 5, 4), "year") == (D(2026, 1, 1), D(2026, 12, 31))


def test_previous_windows():
    assert _previous_window(D(2026, 2, 22), D(2026, 2, 28), "previous_period") == (
        D(2026, 2, 15),
        D(2026, 2, 21),
    )
    assert _previous_window(D(2028, 2, 29), D(2028, 3, 1), "previous_year") == (
        D(2027, 2, 28),
        D(2027, 3, 1),
    )


def test_average_counts_days_without_rows_as_zero_and_last_takes_the_last_day():
    # Group 'FR' has no row on 2026-02-03 (nobody active): DAU over the 3 days is (3 + 3) / 3.
    daily = pl.DataFrame(
        {
            "period": [D(2026, 2, 2), D(2026, 2, 4), D(2026, 2, 2), D(2026, 2, 3), D(2026, 2, 4)],
            "country": ["FR", "FR", "US", "US", "US"],
            "dau": [3, 3, 10, 20, 30],
            "mau": [5, 6, 40, 41, 42],
        }
    )
    aggs = {"dau": "average", "mau": "last"}
    total = _aggregate_days(daily, aggs, None, D(2026, 2, 2), D(2026, 2, 4), ["country"])
    assert total.to_dicts() == [
        {"country": "FR", "dau": 2.0, "mau": 6.0},
        {"country": "US", "dau": 20.0, "mau": 42.0},
    ]
    # Two weeks: Mon 2 .. Sun 8 and Mon 9 ..; the range ends on the 9th.
    daily = pl.DataFrame({"period": [D(2026, 2, 2), D(2026, 2, 9)], "dau": [7, 4], "mau": [1, 2]})
    weekly = _aggregate_days(daily, aggs, "week", D(2026, 2, 2), D(2026, 2, 9), [])
    assert weekly.to_dicts() == [
        {"period": D(2026, 2, 2), "dau": 1.0, "mau": 0.0},  # no row on its last day (the 8th)
        {"period": D(2026, 2, 9), "dau": 4.0, "mau": 2.0},
    ]


def test_join_of_parts_without_keys_is_one_row():
    joined = _join([pl.DataFrame({"a": [1.0]}), pl.DataFrame({"b": [None]})], [], ["a", "b"])
    assert joined.to_dicts() == [{"a": 1.0, "b": None}]


def test_live_window():
    today = D(2026, 3, 5)
    assert live_window(D(2026, 3, 4), today) == (today, today)
    assert live_window(D(2026, 3, 2), today) == (D(2026, 3, 3), today)
    assert live_window(D(2026, 3, 5), today) == (today, today)  # a partial today is recomputed
    assert live_window(D(2026, 3, 6), today) is None
    assert live_window(D(2026, 1, 1), today, max_days=7) == (D(2026, 2, 27), today)
    assert live_window(None, today, max_days=2) == (D(2026, 3, 4), today)


def test_cache_is_lru_with_ttl_and_size_limit():
    now = [0.0]
    cache = ResultCache(max_entries=2, max_rows=10, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # evicts b (least recently used)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    cache.put("t", 4, ttl=5)
    now[0] = 6
    assert cache.get("t") is None
    cache.put("big", 5, rows=11)
    assert cache.get("big") is None
    assert cache.stats.hits == 3 and cache.stats.evictions >= 1


def test_query_log_summary():
    base = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    rows = []
    for i in range(20):
        rows.append(
            {
                "logged_at": base + dt.timedelta(seconds=i),
                "log_date": base.date(),
                "query_id": "q1" if i % 2 else "q2",
                "query": "dau | day" if i % 2 else "mrr | total",
                "metrics": "dau",
                "page": "executive" if i < 15 else None,
                "role": "viewer",
                "source": "published",
                "cache_hit": i % 4 == 0,
                "cached_parts": 0,
                "parts": 1,
                "rows": 1,
                "duration_ms": float(i + 1),
                "compile_ms": 0.0,
                "execute_ms": 0.0,
                "error": "QueryError: x" if i == 19 else None,
                "process": "test",
            }
        )
    frame = pl.from_arrow(__import__("pyarrow").Table.from_pylist(rows, schema=QUERY_LOG_SCHEMA))
    summary = summarize(frame, slowest=3)
    pages = {r["page"]: r for r in summary.by_page.to_dicts()}
    assert pages["executive"]["queries"] == 15 and pages["(none)"]["queries"] == 5
    assert pages["executive"]["p50_ms"] == pytest.approx(8.0)
    assert pages["executive"]["p95_ms"] == pytest.approx(14.3)
    assert summary.slowest["duration_ms"].to_list() == [20.0, 19.0, 18.0]
    assert summary.cache_hit_rate == pytest.approx(5 / 20)
    assert summary.error_rate == pytest.approx(1 / 20)
    assert set(summary.by_query["query"]) == {"dau | day", "mrr | total"}


def test_event_catalog_is_read_from_the_dbt_macros():
    events = EventCatalog.from_dbt_manifest()
    assert "API Request" in events.non_activity_events
    assert events.activity_event_types == ("track", "page", "screen")
    assert events.gross_revenue_events == (
        "Subscription Started",
        "Subscription Renewed",
        "Program Purchased",
    )
    assert events.refund_events == ("Program Refunded",)


def test_live_rebuild_of_user_daily_follows_the_mart_rules():
    # The cases of exec_daily_kpis' dbt unit test: activity, server-side renewal, system events,
    # a refund, identify-only users.
    events = EventCatalog.from_dbt_manifest()
    con = duckdb.connect()
    con.execute(
        """create table ev as select * from (values
        ('u1', 'a1', 'track', 'App Opened', null, date '2024-01-01'),
        ('u1', 'a1', 'track', 'Workout Completed', null, date '2024-01-01'),
        ('u3', 'a3', 'track', 'Subscription Renewed', 10.0, date '2024-01-01'),
        ('u3', 'a3', 'track', 'API Request', null, date '2024-01-01'),
        (null, 'system:recommender', 'track', 'Model Deployed', null, date '2024-01-01'),
        ('u1', 'a1', 'track', 'Program Purchased', 30.0, date '2024-01-03'),
        ('u1', 'a1', 'track', 'Program Refunded', -12.5, date '2024-01-03'),
        ('u4', 'a4', 'identify', 'identify', null, date '2024-01-03')
        ) t(user_id, anonymous_id, event_type, event_name, revenue, event_date)"""
    )
    rows = con.sql(live_user_daily_sql(events, "ev") + " order by 2, 1").fetchall()
    got = {(r[0], str(r[1])): (r[2], r[4], r[8]) for r in rows}  # events, workouts, revenue
    assert got == {
        ("u1", "2024-01-01"): (2, 1, 0.0),
        ("u3", "2024-01-01"): (0, 0, 10.0),  # revenue without activity: a row, not active
        ("u1", "2024-01-03"): (2, 0, 17.5),
    }
