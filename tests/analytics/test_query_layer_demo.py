"""The query layer on the shared demo (300 users x 45 days): every dashboard metric against an
independent computation over the published marts' Parquet files (polars), and the cache, the
live path, the query log and the lock-down on real data."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from analytics import QueryError, QueryLayer, read_query_log, summarize
from lake import gold

pytestmark = pytest.mark.integration

D = dt.date
START, END = D(2026, 2, 2), D(2026, 2, 22)  # three whole ISO weeks inside the demo's data


@pytest.fixture(scope="module")
def ql(demo_gold):
    layer = QueryLayer(
        demo_gold.settings,
        page="tests",
        role="analyst",
        log_flush_seconds=0,  # flushed by the test that reads the log
        today=lambda: demo_gold.data_end,  # gold reaches "today": today is recomputed from bronze
    )
    yield layer
    layer.close()


@pytest.fixture(scope="module")
def mart(demo_gold):
    return lambda name: pl.read_parquet(demo_gold.marts / f"{name}.parquet")


def _in(frame: pl.DataFrame, column: str, start=START, end=END) -> pl.DataFrame:
    return frame.filter(pl.col(column).is_between(start, end))


def test_net_revenue_over_a_range_and_segment_equals_the_marts(ql, mart):
    users = mart("dim_users").select("user_id", "country", "platform")
    facts = _in(mart("fct_user_daily"), "activity_date").join(users, on="user_id")
    result = ql.metrics(
        "net_revenue", start=START, end=END, filters={"country": ["US", "GB"], "platform": "ios"}
    )
    expected = facts.filter(pl.col("country").is_in(["US", "GB"]) & (pl.col("platform") == "ios"))
    assert result.value("net_revenue") == pytest.approx(expected["revenue"].sum(), abs=1e-6)
    assert result.applied["net_revenue"] == {
        "user__country": ("GB", "US"),
        "user__platform": ("ios",),
    }
    # Unfiltered: the user-level facts, the executive KPIs and the revenue streams agree.
    total = ql.metrics(["net_revenue", "stream_net_revenue"], start=START, end=END)
    kpis = _in(mart("exec_daily_kpis"), "kpi_date")["revenue"].sum()
    assert total.value("net_revenue") == pytest.approx(kpis, abs=1e-6)
    assert total.value("stream_net_revenue") == pytest.approx(kpis, abs=1e-6)
    by_stream = ql.metrics(
        ["gross_revenue", "refunds", "stream_net_revenue"],
        start=START,
        end=END,
        group_by="revenue__stream",
    ).frame
    streams = (
        _in(mart("rev_daily_by_stream"), "revenue_date")
        .group_by("revenue_stream")
        .agg(pl.col("gross_revenue", "refunds", "net_revenue").sum())
        .sort("revenue_stream")
    )
    assert by_stream["revenue__stream"].to_list() == streams["revenue_stream"].to_list()
    assert by_stream["gross_revenue"].to_list() == pytest.approx(streams["gross_revenue"].to_list())
    assert by_stream["refunds"].to_list() == pytest.approx(streams["refunds"].to_list())


def test_dau_is_averaged_over_every_day_of_the_period(ql, mart):
    kpis = mart("exec_daily_kpis")
    total = ql.metrics("dau", start=START, end=END)
    assert total.value("dau") == pytest.approx(_in(kpis, "kpi_date")["dau"].mean())
    daily = ql.metrics("dau", grain="day", start=START, end=END).frame
    assert daily["dau"].to_list() == _in(kpis, "kpi_date").sort("kpi_date")["dau"].to_list()
    # Per country and week: quiet days of a small country count as zero.
    users = mart("dim_users").select("user_id", "country")
    active = mart("fct_user_daily").filter(pl.col("events") > 0).join(users, on="user_id")
    days = pl.DataFrame({"day": pl.date_range(START, END, "1d", eager=True)})
    expected = (
        days.join(pl.DataFrame({"country": users["country"].unique()}), how="cross")
        .join(
            active.group_by("activity_date", "country").agg(
                pl.col("user_id").n_unique().alias("n")
            ),
            left_on=["day", "country"],
            right_on=["activity_date", "country"],
            how="left",
        )
        .with_columns(pl.col("day").dt.truncate("1w").alias("period"), pl.col("n").fill_null(0))
        .group_by("period", "country")
        .agg(pl.col("n").mean().alias("dau"))
    )
    weekly = ql.metrics("dau", grain="week", start=START, end=END, group_by="country").frame
    got = weekly.join(expected, on=["period", "country"], how="full", coalesce=True)
    assert got.height == 3 * users["country"].n_unique()
    assert got["dau"].to_list() == pytest.approx(got["dau_right"].to_list())
    assert (got["dau"] < got.group_by("period").agg(pl.col("dau").max())["dau"].max()).any()


def test_wau_mau_stickiness_and_mrr_take_the_period_end(ql, mart):
    active = mart("eng_active_users_daily")
    mrr = mart("rev_mrr_daily")
    result = ql.metrics(
        ["wau", "mau", "stickiness", "mrr", "paying_subscribers"], start=START, end=END
    )
    last = active.filter(pl.col("activity_date") == END).row(0, named=True)
    assert result.value("wau") == last["wau"]
    assert result.value("mau") == last["mau"]
    avg_dau = _in(active, "activity_date")["dau"].mean()
    assert result.value("stickiness") == pytest.approx(avg_dau / last["mau"])
    end_mrr = mrr.filter(pl.col("mrr_date") == END).row(0, named=True)
    assert result.value("mrr") == pytest.approx(end_mrr["mrr"])
    assert result.value("paying_subscribers") == end_mrr["paying_subscribers"]
    daily = ql.metrics(["wau", "mau", "stickiness"], grain="day", start=START, end=END).frame
    expected = _in(active, "activity_date").sort("activity_date")
    assert daily["wau"].to_list() == expected["wau"].to_list()
    assert daily["mau"].to_list() == expected["mau"].to_list()
    assert daily["stickiness"].to_list() == pytest.approx(expected["stickiness"].to_list())


def test_ratios_are_recomputed_from_their_parts(ql, mart):
    recs = _in(mart("ai_recommendation_daily"), "activity_date").filter(
        pl.col("plan_tier") == "free"
    )
    result = ql.metrics(
        ["recommendation_acceptance_rate", "recommendations_shown"],
        start=START,
        end=END,
        filters={"plan": "free"},
    )
    assert result.value("recommendation_acceptance_rate") == pytest.approx(
        recs["accepted"].sum() / recs["shown"].sum()
    )
    assert result.value("recommendations_shown") == recs["shown"].sum()

    monthly = ql.metrics(
        [
            "arpu",
            "arppu",
            "active_users",
            "subscriber_churn_rate",
            "platform_commission",
            "commission_rate",
        ],
        grain="month",
    ).frame.sort("period")
    arpu = mart("rev_arpu_monthly").sort("revenue_month")
    assert monthly["arpu"].to_list() == pytest.approx(arpu["arpu"].to_list())
    assert monthly["arppu"].to_list() == pytest.approx(arpu["arppu"].to_list())
    assert monthly["active_users"].to_list() == arpu["active_users"].to_list()
    movements = mart("rev_mrr_movements").sort("mrr_month")
    churn = [
        c / s if s else None
        for c, s in zip(
            movements["churned_subscribers"], movements["starting_subscribers"], strict=True
        )
    ]
    assert monthly["subscriber_churn_rate"].to_list() == pytest.approx(churn, nan_ok=True)
    trainers = (
        mart("mkt_trainer_revenue")
        .group_by("revenue_month")
        .agg(pl.col("platform_commission", "gross_revenue").sum())
        .sort("revenue_month")
    )
    assert monthly["platform_commission"].to_list() == pytest.approx(
        trainers["platform_commission"].to_list()
    )
    assert monthly["commission_rate"].to_list() == pytest.approx(
        (trainers["platform_commission"] / trainers["gross_revenue"]).to_list()
    )

    funnel = _in(mart("mkt_conversion_funnel"), "funnel_date")
    retention = mart("eng_cohort_retention").filter(
        (pl.col("cohort_grain") == "week")
        & (pl.col("period_grain") == "day")
        & (pl.col("period_number") == 7)
        & (pl.col("window_type") == "calendar")
        & (pl.col("retention_kind") == "n_day")
    )
    sessions = _in(mart("eng_session_stats_daily"), "session_date").filter(
        pl.col("platform") == "all"
    )
    facts = _in(mart("fct_sessions"), "session_date")
    result = ql.metrics(
        [
            "program_conversion_rate",
            "program_views",
            "week1_retention",
            "sessions",
            "avg_session_length",
        ],
        start=START,
        end=END,
    )
    assert result.value("program_views") == funnel["viewed_pairs"].sum()
    assert result.value("program_conversion_rate") == pytest.approx(
        funnel["purchased_pairs"].sum() / funnel["viewed_pairs"].sum()
    )
    cohorts = _in(retention, "cohort_start")
    assert result.value("week1_retention") == pytest.approx(
        cohorts["retained_users"].sum() / cohorts["cohort_size"].sum()
    )
    assert result.value("sessions") == sessions["sessions"].sum()
    assert result.value("avg_session_length") == pytest.approx(facts["duration_seconds"].mean())


def test_new_users_workouts_and_purchases_equal_the_executive_kpis(ql, mart):
    kpis = _in(mart("exec_daily_kpis"), "kpi_date")
    refunds = _in(mart("rev_refunds_daily"), "refund_date")
    result = ql.metrics(
        [
            "new_users",
            "workouts_completed",
            "program_purchases",
            "program_revenue",
            "subscription_revenue",
        ],
        start=START,
        end=END,
    )
    assert result.value("new_users") == kpis["new_users"].sum()
    assert result.value("workouts_completed") == kpis["workouts_completed"].sum()
    assert result.value("program_purchases") == refunds["purchases"].sum()
    assert result.value("program_revenue") == pytest.approx(kpis["program_revenue"].sum())
    assert result.value("subscription_revenue") == pytest.approx(kpis["subscription_revenue"].sum())


def test_segments_a_metric_lacks_are_reported_or_refused(ql):
    result = ql.metrics(["net_revenue", "mrr"], start=START, end=END, filters={"country": "US"})
    assert result.unfiltered == {"mrr": ("country",)}
    with pytest.raises(QueryError, match="mrr cannot be filtered by 'country'"):
        ql.metrics(["mrr"], filters={"country": "US"}, strict=True)
    with pytest.raises(QueryError, match="cannot be grouped by 'country'"):
        ql.metrics(["mrr"], group_by="country")
    with pytest.raises(QueryError, match="defined per month"):
        ql.metrics(["platform_commission"], grain="day")
    with pytest.raises(QueryError, match="unknown metric"):
        ql.metrics(["dau; drop table x"])


def test_compare_gives_the_previous_period_and_the_change(ql, mart):
    result = ql.metrics(
        ["net_revenue", "dau"], start=D(2026, 2, 16), end=D(2026, 2, 22), compare="previous_period"
    )
    assert (result.previous.start, result.previous.end) == (D(2026, 2, 9), D(2026, 2, 15))
    kpis = mart("exec_daily_kpis")
    before = _in(kpis, "kpi_date", D(2026, 2, 9), D(2026, 2, 15))["revenue"].sum()
    now = _in(kpis, "kpi_date", D(2026, 2, 16), D(2026, 2, 22))["revenue"].sum()
    assert result.change("net_revenue") == pytest.approx((now - before) / before)
    # The period before the data starts is not a base.
    early = ql.metrics(
        "net_revenue", start=D(2026, 1, 15), end=D(2026, 1, 20), compare="previous_period"
    )
    assert early.change("net_revenue") is None


def test_filter_values_are_literals(ql):
    hostile = ql.metrics(
        "net_revenue", start=START, end=END, filters={"country": ["x' OR '1'='1", "{{ 1 }}"]}
    )
    assert hostile.value("net_revenue") is None  # no such country: nothing summed
    assert ql.dimension_values("country") == ["AU", "BR", "CA", "DE", "FR", "GB", "IN", "US"]


def test_cache_hits_and_a_new_publication_invalidates_only_what_changed(ql, demo_gold, tmp_path):
    args = {"start": START, "end": END}
    revenue = ql.metrics("net_revenue", **args)
    mrr = ql.metrics("mrr", **args)
    again = ql.metrics("net_revenue", **args)
    assert not revenue.cache_hit and again.cache_hit and again.frame.equals(revenue.frame)

    settings = demo_gold.settings
    # Files outside this gold dir are copied (files under it would be moved by gold.publish).
    files = {p.stem: p for p in demo_gold.marts.glob("*.parquet")}
    same = gold.publish(settings, files)  # identical marts under a new id
    hit = ql.metrics("mrr", **args)
    assert hit.freshness.publication_id == same.id and hit.cache_hit

    doubled = pl.read_parquet(files["rev_mrr_daily"]).with_columns(pl.col("mrr") * 2)
    changed = tmp_path / "rev_mrr_daily.parquet"
    doubled.write_parquet(changed)
    gold.publish(settings, {**files, "rev_mrr_daily": changed})
    assert ql.metrics("net_revenue", **args).cache_hit  # its marts did not change
    after = ql.metrics("mrr", **args)
    assert not after.cache_hit
    assert after.value("mrr") == pytest.approx(2 * mrr.value("mrr"))

    gold.publish(settings, files)  # back to the original numbers for the other tests
    assert ql.metrics("mrr", **args).value("mrr") == pytest.approx(mrr.value("mrr"))


def test_today_so_far_from_bronze_equals_the_published_day(ql, demo_gold):
    """The demo's last day is fully published; with "today" = that day, the live path rebuilds it
    from bronze and must give the same numbers as the marts."""
    live = [m.name for m in ql.catalogue() if m.live]
    assert {"dau", "wau", "mau", "net_revenue", "new_users", "workouts_completed"} <= set(live)
    assert "mrr" not in live and "sessions" not in live
    day = demo_gold.data_end
    result = ql.metrics(
        live, grain="day", start=day - dt.timedelta(days=6), filters={"country": "US"}
    )
    assert result.freshness.live_start == result.freshness.live_end == day
    assert result.freshness.live_events and result.freshness.live_events > 1000
    published = result.frame.filter(pl.col("period") == day).drop("source").row(0, named=True)
    rebuilt = result.live.drop("source").row(0, named=True)
    assert rebuilt.keys() == published.keys()
    for name, value in published.items():
        assert rebuilt[name] == pytest.approx(value), name
    combined = result.combined()
    assert combined.height == 7 and combined["source"].to_list()[-1] == "live"
    kpis = pl.read_parquet(demo_gold.marts / "exec_daily_kpis.parquet").filter(
        pl.col("kpi_date") == day
    )
    total = ql.metrics(["dau", "net_revenue"])  # the whole range, and today so far beside it
    assert total.live_value("dau") == kpis["dau"][0]
    assert total.live_value("net_revenue") == pytest.approx(kpis["revenue"][0])
    assert ql.metrics("mrr").live is None  # rev_mrr_daily has no live rebuild


def test_every_query_is_logged(ql, demo_gold):
    ql.metrics("dau", start=START, end=END, page="executive", role="viewer")
    ql.metrics("dau", start=START, end=END, page="executive", role="viewer")
    with pytest.raises(QueryError):
        ql.metrics("no_such_metric", page="executive")
    ql.log.flush()
    log = read_query_log(demo_gold.settings)
    executive = log.filter(pl.col("page") == "executive").sort("logged_at")
    assert executive.height == 3
    ok, cached, failed = executive.to_dicts()
    assert cached["cache_hit"] and cached["rows"] == ok["rows"] == 1 and cached["role"] == "viewer"
    assert ok["error"] is None and failed["error"].startswith("QueryError: unknown metric")
    assert ok["query"] == "dau | total" and ok["duration_ms"] > 0
    assert set(log["publication_id"].drop_nulls()) >= {gold.current_id(demo_gold.settings)}
    summary = summarize(log)
    assert "executive" in summary.by_page["page"].to_list()
    assert summary.by_query.height >= 2 and summary.cache_hit_rate is not None


def test_sql_cannot_reach_outside_gold(ql):
    db = ql.publication_db()
    for sql in (
        "select * from read_csv('/etc/passwd')",
        "copy (select 1) to '/tmp/pulse-escape.csv'",
        "attach '/tmp/x.duckdb' as x",
        "set enable_external_access = true",
    ):
        with pytest.raises(Exception, match=r"(?i)permission|disabled|locked|configuration"):
            db.execute(sql)


def test_metricflow_warehouse_validations_pass_on_the_publication(ql):
    """What `mf validate-configs` checks against a warehouse, run on the publication's views."""
    from metricflow.validation.data_warehouse_model_validator import DataWarehouseModelValidator

    from analytics.semantic import DuckDbSqlClient

    validator = DataWarehouseModelValidator(DuckDbSqlClient(ql.publication_db().con))
    manifest = ql.semantic.manifest
    for check in (
        validator.validate_semantic_models,
        validator.validate_dimensions,
        validator.validate_entities,
        validator.validate_simple_metrics,
        validator.validate_metrics,
    ):
        results = check(manifest)
        assert not results.has_blocking_issues, [i.as_readable_str() for i in results.all_issues]


def test_concurrent_readers_get_the_same_numbers(demo_gold):
    """One layer shared by threads (Streamlit sessions): no errors, same answers, cache or not."""
    from concurrent.futures import ThreadPoolExecutor

    layer = QueryLayer(demo_gold.settings, cache_entries=0, log_queries=False, live=False)
    queries = [
        dict(names=["dau", "stickiness"], grain="week", group_by="platform"),
        dict(names=["net_revenue", "arpu"], start=START, end=END, filters={"country": "US"}),
        dict(names=["recommendation_acceptance_rate"], grain="day", filters={"plan": "free"}),
        dict(names=["mrr", "wau"], grain="month"),
    ]

    def run(q):
        q = dict(q)
        return layer.metrics(q.pop("names"), **q).frame

    expected = [run(q) for q in queries]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, queries * 5))
    for i, frame in enumerate(results):
        assert frame.equals(expected[i % len(queries)])


def test_no_bronze_means_a_live_window_with_nothing_in_it(demo_gold, tmp_path):
    import os

    from core.settings import Settings

    settings = Settings(data_dir=tmp_path / "data")
    settings.lake_dir.mkdir(parents=True)
    os.symlink(demo_gold.settings.gold_dir, settings.gold_dir)
    layer = QueryLayer(
        settings, log_queries=False, today=lambda: demo_gold.data_end + dt.timedelta(days=1)
    )
    result = layer.metrics(["dau", "net_revenue"], grain="day")
    assert result.freshness.live_events == 0
    assert result.live["dau"].to_list() == [0]
    assert result.combined().height == result.frame.height + 1
    with pytest.raises(ValueError, match="live rows are daily"):
        layer.metrics("dau", grain="week").combined()


_STREAM = pl.col("revenue_stream")
_DONE = pl.col("is_window_complete")
# metric -> (mart, date column, polars aggregate over the range's rows), written from the marts'
# column docs, not from the semantic YAML.
TOTALS = {
    "refund_count": ("rev_daily_by_stream", "revenue_date", pl.col("refund_count").sum()),
    "program_net_revenue": (
        "rev_daily_by_stream",
        "revenue_date",
        pl.col("net_revenue").filter(_STREAM == "program_sales").sum(),
    ),
    "program_view_purchases": (
        "mkt_conversion_funnel",
        "funnel_date",
        pl.col("purchased_pairs").sum(),
    ),
    "program_kept_purchases": ("mkt_conversion_funnel", "funnel_date", pl.col("kept_pairs").sum()),
    # The refunds mart keeps its own purchase totals (marketplace events), not the streams'.
    "refund_to_sales_ratio": (
        "rev_refunds_daily",
        "refund_date",
        pl.col("refunded_amount").sum() / pl.col("purchase_revenue").sum(),
    ),
    "signups": ("eng_signup_funnel_daily", "signup_date", pl.col("signups").sum()),
    "paid_conversions": (
        "eng_signup_funnel_daily",
        "signup_date",
        pl.col("converted_within_window").sum(),
    ),
    "signup_conversion_rate": (
        "eng_signup_funnel_daily",
        "signup_date",
        pl.col("converted_within_window").sum() / pl.col("signups").sum(),
    ),
    # The funnel metrics count only signups whose 14-day window is complete (the range ends
    # after the last complete signup day, so the filter matters).
    "funnel_signups": ("eng_signup_funnel", "signup_date", _DONE.sum()),
    "funnel_activations": (
        "eng_signup_funnel",
        "signup_date",
        (_DONE & pl.col("converted_workout_within_window")).sum(),
    ),
    "funnel_paid": (
        "eng_signup_funnel",
        "signup_date",
        (_DONE & pl.col("converted_within_window")).sum(),
    ),
    "funnel_paid_after_workout": (
        "eng_signup_funnel",
        "signup_date",
        (_DONE & pl.col("converted_after_workout_within_window")).sum(),
    ),
    "activation_rate": (
        "eng_signup_funnel",
        "signup_date",
        (_DONE & pl.col("converted_workout_within_window")).sum() / _DONE.sum(),
    ),
    "funnel_conversion_rate": (
        "eng_signup_funnel",
        "signup_date",
        (_DONE & pl.col("converted_within_window")).sum() / _DONE.sum(),
    ),
    "median_days_to_paid": (
        "eng_signup_funnel",
        "signup_date",
        (pl.col("hours_to_first_conversion") / 24)
        .filter(_DONE & pl.col("converted_within_window"))
        .median(),
    ),
    "median_hours_to_first_workout": (
        "eng_signup_funnel",
        "signup_date",
        pl.col("hours_to_first_workout")
        .filter(_DONE & pl.col("converted_workout_within_window"))
        .median(),
    ),
    "recommendations_accepted": (
        "ai_recommendation_daily",
        "activity_date",
        pl.col("accepted").sum(),
    ),
    "session_duration_seconds": ("fct_sessions", "session_date", pl.col("duration_seconds").sum()),
    "session_users": ("fct_sessions", "session_date", pl.col("user_key").n_unique()),
    "sessions_per_user": (
        "fct_sessions",
        "session_date",
        pl.len() / pl.col("user_key").n_unique(),
    ),
    "active_users": (
        "fct_user_daily",
        "activity_date",
        pl.col("user_id").filter(pl.col("events") > 0).n_unique(),
    ),
    "paying_users": (
        "fct_user_daily",
        "activity_date",
        pl.col("user_id").filter(pl.col("revenue") > 0).n_unique(),
    ),
    "cohort_users": ("eng_cohort_retention", "cohort_start", pl.col("cohort_size").sum()),
    "retained_users": ("eng_cohort_retention", "cohort_start", pl.col("retained_users").sum()),
}
MONTHLY = {
    "churned_mrr": ("rev_mrr_movements", "churned_mrr"),
    "starting_mrr": ("rev_mrr_movements", "starting_mrr"),
    "churned_subscribers": ("rev_mrr_movements", "churned_subscribers"),
    "starting_subscribers": ("rev_mrr_movements", "starting_subscribers"),
    "trainer_payout": ("mkt_trainer_revenue", "trainer_payout"),
    "net_platform_commission": ("mkt_trainer_revenue", "net_platform_commission"),
    "trainer_gross_revenue": ("mkt_trainer_revenue", "gross_revenue"),
}


@pytest.mark.parametrize("metric", sorted(TOTALS))
def test_range_totals_of_the_other_metrics(ql, mart, metric):
    name, column, agg = TOTALS[metric]
    expected = _in(mart(name), column).select(agg.alias("v"))["v"][0]
    assert ql.metrics(metric, start=START, end=END).value(metric) == pytest.approx(expected)


def test_monthly_metrics_and_mrr_churn_rate(ql, mart):
    result = ql.metrics([*MONTHLY, "mrr_churn_rate"], grain="month").frame.sort("period")
    for metric, (name, column) in MONTHLY.items():
        date = "mrr_month" if name == "rev_mrr_movements" else "revenue_month"
        expected = mart(name).group_by(date).agg(pl.col(column).sum()).sort(date)[column]
        assert result[metric].to_list() == pytest.approx(expected.to_list()), metric
    movements = mart("rev_mrr_movements").sort("mrr_month")
    rates = [
        c / s if s else None
        for c, s in zip(movements["churned_mrr"], movements["starting_mrr"], strict=True)
    ]
    assert result["mrr_churn_rate"].to_list() == pytest.approx(rates, nan_ok=True)


def test_every_metric_of_the_catalogue_is_checked_here(ql):
    import re
    from pathlib import Path

    text = Path(__file__).read_text()
    unchecked = [m.name for m in ql.catalogue() if not re.search(rf"[\"']{m.name}[\"']", text)]
    assert not unchecked, f"add an independent check of {unchecked} to this module"


def test_metrics_of_different_grains_asked_together_keep_their_own_ranges(ql, mart):
    """A monthly metric in the same call (the executive cards) must not stretch a daily metric's
    range to whole months: each value equals the same metric asked alone."""
    start, end = dt.date(2026, 2, 15), dt.date(2026, 2, 28)
    together = ql.metrics(
        ["new_users", "net_revenue", "subscriber_churn_rate", "dau"], start=start, end=end
    )
    for name in ("new_users", "net_revenue", "dau"):
        alone = ql.metrics([name], start=start, end=end)
        assert together.value(name) == pytest.approx(alone.value(name)), name
    kpis = _in(mart("exec_daily_kpis"), "kpi_date", start, end)
    assert together.value("new_users") == kpis["new_users"].sum()


def test_mart_tables_come_through_the_layer_with_checked_names_and_literal_values(ql, mart):
    result = ql.table(
        "eng_cohort_retention",
        columns=["cohort_start", "period_number", "retention_rate"],
        where={"cohort_grain": "week", "retention_kind": ["n_day"], "period_grain": "week"},
        between=("cohort_start", START, END),
        order_by=["cohort_start", "period_number"],
    )
    expected = (
        mart("eng_cohort_retention")
        .filter(
            (pl.col("cohort_grain") == "week")
            & (pl.col("retention_kind") == "n_day")
            & (pl.col("period_grain") == "week")
            & pl.col("cohort_start").is_between(START, END)
        )
        .sort("cohort_start", "period_number")
        .select("cohort_start", "period_number", "retention_rate")
    )
    assert result.frame.equals(expected) and result.frame.height > 0
    assert result.freshness.publication_id and not result.cache_hit
    assert ql.table("eng_cohort_retention", columns=["cohort_start"], limit=3).frame.height == 3
    again = ql.table(
        "eng_cohort_retention",
        columns=["cohort_start", "period_number", "retention_rate"],
        where={"cohort_grain": "week", "retention_kind": ["n_day"], "period_grain": "week"},
        between=("cohort_start", START, END),
        order_by=["cohort_start", "period_number"],
    )
    assert again.cache_hit and again.frame.equals(result.frame)
    assert (
        ql.table("dim_programs", where={"program_id": ["x'); drop table t; --"]}).frame.height == 0
    )
    with pytest.raises(QueryError, match="has no column"):
        ql.table("dim_users", columns=['user_id"; select 1; --'])
    with pytest.raises(gold.MartNotPublished, match="is not in publication"):
        ql.table("no_such_mart")
