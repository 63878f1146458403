"""The marketplace page on a private copy of the shared demo's gold publication (AppTest): its
cards, program table, suggestions and trainer months equal an independent computation from the
marts' Parquet files; a program drill-down, the trainer month and the evidence thresholds come
from the URL and the widgets; an inferred program is labelled; no exception."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics.charts import format_change, format_value
from analytics.marketplace import Thresholds, label_programs, suggest
from core.settings import Settings, get_settings

pytestmark = pytest.mark.integration

PAGE = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views" / "marketplace.py")
START, END = dt.date(2026, 2, 8), dt.date(2026, 2, 21)
BEFORE = (START - dt.timedelta(days=14), START - dt.timedelta(days=1))
FEBRUARY = dt.date(2026, 2, 1)


def _clear_caches() -> None:
    from apps.streamlit import alerts_panel, queries

    get_settings.cache_clear()
    queries.query_layer.clear()
    queries.segment_options.clear()
    alerts_panel._engine.clear()


def _publish(source, data_dir: Path, replace: dict | None = None) -> None:
    from lake import gold

    tables = {name: source.path / f"{name}.parquet" for name in source.models}
    tables.update(replace or {})
    gold.publish(Settings(data_dir=data_dir), tables, {"run_id": "marketplace-page-tests"})


@pytest.fixture(scope="module")
def demo_source(demo_settings):
    from lake import gold

    return gold.current(demo_settings)


@pytest.fixture(scope="module")
def marts(demo_source, tmp_path_factory):
    """The demo's marts, read with polars; the page reads a private copy of the publication."""
    data_dir = tmp_path_factory.mktemp("marketplace_page") / "data"
    _publish(demo_source, data_dir)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULSE_DATA_DIR", str(data_dir))
        _clear_caches()
        yield lambda name: pl.read_parquet(demo_source.path / f"{name}.parquet")
    _clear_caches()


def _run(params: dict, at: AppTest | None = None) -> AppTest:
    at = at or AppTest.from_file(PAGE, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _cards(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _frame(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _in(frame: pl.DataFrame, column: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    return frame.filter(pl.col(column).is_between(start, end))


def _programs(marts, start: dt.date = START, end: dt.date = END) -> pl.DataFrame:
    """The program table over ``start .. end``, recomputed here from the member-day rows."""
    rows = _in(marts("mkt_program_member_daily"), "activity_date", start, end)
    sums = ["views", "purchases", "gross_revenue", "refunds", "refunded_amount", "trainer_payout"]
    per = rows.group_by("program_id").agg(
        *[pl.col(c).sum() for c in sums],
        viewers=pl.col("member_id").filter(pl.col("views") > 0).n_unique(),
        purchasers=pl.col("member_id").filter(pl.col("purchases") > 0).n_unique(),
        ratings=pl.col("ratings").sum(),
        rating_sum=pl.col("rating_sum").sum(),
    )
    per = per.with_columns(
        conversion_rate=pl.col("purchasers") / pl.col("viewers"),
        net_revenue=pl.col("gross_revenue") - pl.col("refunded_amount"),
        refund_rate=pl.col("refunds") / pl.col("purchases"),
        avg_rating=pl.col("rating_sum") / pl.col("ratings"),
    ).with_columns(
        # no viewers / purchases / ratings: no rate (the page shows none)
        *[
            pl.when(pl.col(base) > 0).then(pl.col(rate)).alias(rate)
            for rate, base in (
                ("conversion_rate", "viewers"),
                ("refund_rate", "purchases"),
                ("avg_rating", "ratings"),
            )
        ]
    )
    attributes = marts("mkt_program_performance").select("program_id", "category", "list_price")
    titles = marts("dim_programs").select("program_id", "program_title", "is_inferred")
    return per.join(attributes, on="program_id", how="left").join(
        titles, on="program_id", how="left"
    )


def test_the_member_day_rows_total_to_the_all_history_program_table(marts):
    """mkt_program_member_daily over all history equals mkt_program_performance (built apart
    in SQL from the same events): the range table is the same numbers, cut by date."""
    every_day = _programs(marts, dt.date(2000, 1, 1), dt.date(2100, 1, 1)).sort("program_id")
    history = marts("mkt_program_performance").sort("program_id")
    assert every_day["program_id"].to_list() == history["program_id"].to_list()
    for column in ("views", "viewers", "purchases", "purchasers", "refunds", "ratings"):
        assert every_day[column].to_list() == history[column].to_list(), column
    for column in ("gross_revenue", "net_revenue", "conversion_rate", "refund_rate", "avg_rating"):
        assert every_day[column].to_list() == pytest.approx(history[column].to_list()), column


def _expected(marts, start, end) -> dict[str, float]:
    funnel = _in(marts("mkt_conversion_funnel"), "funnel_date", start, end)
    sales = _in(marts("rev_daily_by_stream"), "revenue_date", start, end).filter(
        pl.col("revenue_stream") == "program_sales"
    )
    refunds = _in(marts("rev_refunds_daily"), "refund_date", start, end)
    return {
        "Program views (new pairs)": funnel["viewed_pairs"].sum(),
        "View to purchase conversion": funnel["purchased_pairs"].sum()
        / funnel["viewed_pairs"].sum(),
        "Program purchases": refunds["purchases"].sum(),
        "Program sales (gross)": sales["gross_revenue"].sum(),
        "Program sales (net)": sales["net_revenue"].sum(),
        "Refund-to-sales ratio": refunds["refunded_amount"].sum()
        / refunds["purchase_revenue"].sum(),
    }


UNITS = {
    "Program views (new pairs)": "count",
    "Program purchases": "count",
    "View to purchase conversion": "percent",
    "Refund-to-sales ratio": "percent",
}


def test_cards_equal_an_independent_recomputation(marts):
    at = _run({"range": [str(START), str(END)]})
    cards = _cards(at)
    current, previous = _expected(marts, START, END), _expected(marts, *BEFORE)
    for label, value in current.items():
        shown, delta = cards[label]
        assert shown == format_value(value, UNITS.get(label, "currency"), compact=True), label
        assert delta == format_change((value - previous[label]) / abs(previous[label])), label
    # Commission is monthly: February's, without a change (the comparison shares February).
    trainers = marts("mkt_trainer_revenue").filter(pl.col("revenue_month") == FEBRUARY)
    commission = trainers["platform_commission"].sum()
    assert cards["Platform commission (Feb 2026)"] == (format_value(commission, "currency"), "")
    rate = commission / trainers["gross_revenue"].sum()
    assert cards["Commission rate (Feb 2026)"] == (format_value(rate, "percent"), "")
    assert not [w for w in at.multiselect]  # no member segments to filter by here


def test_program_table_and_suggestions_equal_an_independent_computation(marts):
    at = _run({"range": [str(START), str(END)]})
    programs = label_programs(_programs(marts))
    table = _frame(at, "platform_commission").set_index("program")
    assert len(table) == programs.height
    for row in programs.iter_rows(named=True):
        line = table.loc[row["program"]]
        assert line["net_revenue"] == pytest.approx(row["net_revenue"])
        assert line["views"] == row["views"] and line["purchases"] == row["purchases"]
        assert line["viewers"] == row["viewers"]
    # The range narrows the table: a shorter one shows fewer views.
    short = _run({"range": [str(END - dt.timedelta(days=6)), str(END)]})
    week = _frame(short, "platform_commission")
    assert week["views"].sum() == _programs(marts, END - dt.timedelta(days=6), END)["views"].sum()
    assert week["views"].sum() < table["views"].sum()
    assert list(table.index[:3]) == (
        programs.sort(["net_revenue", "program_id"], descending=[True, False])["program"]
        .head(3)
        .to_list()
    )
    _, expected = suggest(programs)
    shown = _frame(at, "suggestion")
    assert list(zip(shown["program"], shown["suggestion"], strict=True)) == [
        (s.program, s.headline) for s in expected
    ]
    assert [None if v != v else v for v in shown["impact"]] == [s.impact for s in expected]
    assert len(expected) > 0
    # Each rule's threshold is on the page, with the marketplace's numbers.
    captions = " ".join(c.value for c in at.caption)
    assert captions.count("Rule: ") == 5  # one per rule, fired or not
    market = programs["refunds"].sum() / programs["purchases"].sum()  # over the range
    assert f"refund rate ≥ {max(2 * market, 0.10):.1%}" in captions


def test_a_program_drill_down_from_the_url_and_back(marts):
    at = _run({"range": [str(START), str(END)], "program": "pg_00029"})
    row = _programs(marts).filter(pl.col("program_id") == "pg_00029").row(0, named=True)
    assert any(m.value == "#### Pure Reformer · pg_00029" for m in at.markdown)
    cards = _cards(at)
    assert cards["Conversion"][0] == format_value(row["conversion_rate"], "percent")
    assert cards["Net revenue"][0] == format_value(row["net_revenue"], "currency")
    _, suggested = suggest(label_programs(_programs(marts)))
    for headline in {x.headline for x in suggested if x.program_id == "pg_00029"}:
        assert any(headline in m.value for m in at.markdown), headline
    at.button(key="program_back").click()
    at.run()
    assert "program" not in at.query_params
    assert not any(m.value.startswith("#### ") for m in at.markdown)
    # An unknown program in the URL is ignored, not an error.
    assert not _run({"program": "pg_nope"}).exception


def test_trainer_month_from_the_url_equals_the_mart(marts):
    at = _run({"range": [str(START), str(END)], "trainer_month": "January 2026"})
    assert at.selectbox(key="trainer_month").value == "2026-01"
    january = marts("mkt_trainer_revenue").filter(pl.col("revenue_month") == dt.date(2026, 1, 1))
    table = _frame(at, "net_trainer_payout")
    assert len(table) == january.height
    assert table["gross_revenue"].sum() == pytest.approx(january["gross_revenue"].sum())
    assert table["net_platform_commission"].sum() == pytest.approx(
        january["net_platform_commission"].sum()
    )
    sentence = next(m.value for m in at.markdown if m.value.startswith("**January 2026**"))
    assert format_value(january["gross_revenue"].sum(), "currency") in sentence
    assert format_value(january["platform_commission"].sum(), "currency") in sentence


def test_evidence_thresholds_change_the_suggestions(marts):
    at = _run({"range": [str(START), str(END)]})
    assert "High refund rate" not in list(_frame(at, "suggestion")["suggestion"])
    at.number_input(key="t_purchases").set_value(1)
    at.run()
    shown = _frame(at, "suggestion")
    refunded = set(shown["program"][shown["suggestion"] == "High refund rate"])
    _, expected = suggest(label_programs(_programs(marts)), Thresholds(min_purchases=1))
    assert refunded == {s.program for s in expected if s.rule == "high_refund_rate"}
    assert refunded  # two programs with their one sale refunded


def test_an_inferred_program_is_labelled(demo_source, marts, tmp_path):
    """A program the app's export does not list yet (an inferred member of dim_programs)."""
    programs = marts("dim_programs")
    inferred = programs.head(1).with_columns(
        pl.lit("pg_99999").alias("program_id"),
        pl.lit(None, dtype=pl.String).alias("program_title"),
        pl.lit(None, dtype=pl.String).alias("program_level"),
        pl.lit(True).alias("is_inferred"),
    )
    performance = marts("mkt_program_performance")
    sold = performance.head(1).with_columns(pl.lit("pg_99999").alias("program_id"))
    daily = marts("mkt_program_member_daily")
    sold_daily = (
        _in(daily, "activity_date", START, END)
        .head(3)
        .with_columns(pl.lit("pg_99999").alias("program_id"))
    )
    data_dir = tmp_path / "data"
    _publish(
        demo_source,
        data_dir,
        {
            "dim_programs": pl.concat([programs, inferred]).to_arrow(),
            "mkt_program_performance": pl.concat([performance, sold]).to_arrow(),
            "mkt_program_member_daily": pl.concat([daily, sold_daily]).to_arrow(),
        },
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULSE_DATA_DIR", str(data_dir))
        _clear_caches()
        at = _run({"range": [str(START), str(END)], "program": "pg_99999"})
    _clear_caches()
    assert "pg_99999 (inferred)" in list(_frame(at, "platform_commission")["program"])
    assert any("not in the app's program export yet" in i.value for i in at.info)
    assert any(m.value == "#### pg_99999 (inferred)" for m in at.markdown)
    assert any("level unknown" in c.value for c in at.caption)
