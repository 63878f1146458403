"""The revenue page on a private copy of the shared demo's gold publication (AppTest): its cards,
stream totals, MRR bridge, ARPU months and refunds equal an independent recomputation from the
marts' Parquet files for a chosen range and segment; the month, the measure, the comparison and
a day drill-down come from the URL; empty parts say so; no exception."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics.charts import format_change, format_value
from analytics.revenue import mrr_bridge
from core.settings import Settings, get_settings

pytestmark = pytest.mark.integration

PAGE = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views" / "revenue.py")
START, END = dt.date(2026, 2, 8), dt.date(2026, 2, 21)  # two weeks, the two before are in the data
BEFORE = (START - dt.timedelta(days=14), START - dt.timedelta(days=1))


def _clear_caches() -> None:
    from apps.streamlit import alerts_panel, queries

    get_settings.cache_clear()
    queries.query_layer.clear()
    queries.segment_options.clear()
    alerts_panel._engine.clear()


@pytest.fixture(scope="module")
def marts(demo_settings, tmp_path_factory):
    """The demo's marts, read with polars; the page reads a private copy of the publication (its
    query log goes there, not into the shared demo data)."""
    from lake import gold

    source = gold.current(demo_settings)
    data_dir = tmp_path_factory.mktemp("revenue_page") / "data"
    gold.publish(
        Settings(data_dir=data_dir),
        {name: source.path / f"{name}.parquet" for name in source.models},
        {"run_id": "revenue-page-tests"},
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULSE_DATA_DIR", str(data_dir))
        _clear_caches()
        yield lambda name: pl.read_parquet(source.path / f"{name}.parquet")
    _clear_caches()


def _run(params: dict) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _cards(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _frame(at: AppTest, column: str):
    """The first table of the page that has ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _in(frame: pl.DataFrame, column: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    return frame.filter(pl.col(column).is_between(start, end))


def _expected(marts, start: dt.date, end: dt.date, platform: str | None = None) -> dict:
    users = marts("dim_users").select("user_id", "platform")
    if platform:
        users = users.filter(pl.col("platform") == platform)
    facts = _in(marts("fct_user_daily"), "activity_date", start, end).join(users, on="user_id")
    net = facts["revenue"].sum()
    streams = _in(marts("rev_daily_by_stream"), "revenue_date", start, end)
    mrr = marts("rev_mrr_daily").filter(pl.col("mrr_date") == end).row(0, named=True)
    return {
        "Net revenue": net,
        "Gross revenue": streams["gross_revenue"].sum(),
        "Refunds": streams["refunds"].sum(),
        "MRR": mrr["mrr"],
        "Paying subscribers": mrr["paying_subscribers"],
        "ARPU": net / facts.filter(pl.col("events") > 0)["user_id"].n_unique(),
        "ARPPU": net / facts.filter(pl.col("revenue") > 0)["user_id"].n_unique(),
    }


UNITS = {"Paying subscribers": "count"}


def test_cards_equal_an_independent_recomputation_for_a_range_and_a_segment(marts):
    at = _run({"range": [str(START), str(END)], "platform": "ios"})
    cards = _cards(at)
    current, previous = _expected(marts, START, END, "ios"), _expected(marts, *BEFORE, "ios")
    for label, value in current.items():
        shown, delta = cards[label]
        unit = UNITS.get(label, "currency")
        assert shown == format_value(value, unit, compact=True), label
        change = (value - previous[label]) / abs(previous[label]) if previous[label] else None
        assert delta == format_change(change), label
    # Churn is monthly: February's, and no change against a comparison inside February.
    february = marts("rev_mrr_movements").filter(pl.col("mrr_month") == dt.date(2026, 2, 1))
    churn = february["churned_subscribers"][0] / february["starting_subscribers"][0]
    assert cards["Subscriber churn rate (Feb 2026)"] == (format_value(churn, "percent"), "")
    captions = " ".join(c.value for c in at.caption)
    assert "Platform: ios" in captions
    # The cards the segment cannot split say so.
    assert "Not split by segment" in captions and "Gross revenue (Platform)" in captions
    assert "MRR (Platform)" in captions and "Net revenue (Platform)" not in captions


def test_stream_totals_and_arpu_months_equal_the_marts(marts):
    at = _run({"range": [str(START), str(END)]})
    streams = (
        _in(marts("rev_daily_by_stream"), "revenue_date", START, END)
        .group_by("revenue_stream")
        .agg(pl.col("gross_revenue", "refunds", "net_revenue").sum())
    )
    shown = _frame(at, "stream_net_revenue").set_index("stream")
    names = {"subscriptions": "Subscriptions", "program_sales": "Program sales"}
    total = streams["net_revenue"].sum()
    for row in streams.iter_rows(named=True):
        line = shown.loc[names[row["revenue_stream"]]]
        assert line["gross_revenue"] == pytest.approx(row["gross_revenue"])
        assert line["refunds"] == pytest.approx(row["refunds"])
        assert line["stream_net_revenue"] == pytest.approx(row["net_revenue"])
        assert line["share"] == pytest.approx(row["net_revenue"] / total)
    # ARPU by month (its own tab, chosen in the URL): every month of the data, whatever the range.
    at = _run({"range": [str(START), str(END)], "tab": "ARPU and ARPPU"})
    # Only the open tab runs: the stream table is not drawn behind it.
    assert not any("stream_net_revenue" in d.value.columns for d in at.dataframe)
    months = marts("rev_arpu_monthly").sort("revenue_month")
    table = _frame(at, "arppu")
    assert list(table["month"]) == ["Jan 2026 (part)", "Feb 2026"]  # the data starts Jan 15
    assert list(table["arpu"]) == pytest.approx(months["arpu"].to_list())
    assert list(table["arppu"]) == pytest.approx(months["arppu"].to_list())
    assert list(table["active_users"]) == months["active_users"].to_list()


def test_the_mrr_movements_of_the_month_in_the_url_add_up(marts):
    movements = marts("rev_mrr_movements").sort("mrr_month")
    for label, month, params in (
        ("February 2026", dt.date(2026, 2, 1), {}),  # the month the range ends in
        ("January 2026", dt.date(2026, 1, 1), {"mrr_month": "January 2026"}),
    ):
        at = _run({"range": [str(START), str(END)], "tab": "MRR", **params})
        assert at.selectbox(key="mrr_month").value == f"{month:%Y-%m}"
        row = movements.filter(pl.col("mrr_month") == month).row(0, named=True)
        bridge = mrr_bridge(row)
        assert bridge.adds_up
        success = " ".join(s.value for s in at.success)
        assert f"= ${row['ending_mrr']:,.2f}, the ending MRR" in success, label
        assert f"${row['starting_mrr']:,.2f} starting" in success
        assert f"− ${row['churned_mrr']:,.2f} churned" in success
        steps = _frame(at, "movement")
        assert list(steps["mrr"]) == pytest.approx(
            [
                row["starting_mrr"],
                row["new_mrr"],
                row["expansion_mrr"],
                row["reactivated_mrr"],
                -row["contraction_mrr"],
                -row["churned_mrr"],
                row["ending_mrr"],
            ]
        )
        assert list(steps["subscribers"]) == [
            row[c]
            for c in (
                "starting_subscribers",
                "new_subscribers",
                "expanded_subscribers",
                "reactivated_subscribers",
                "contracted_subscribers",
                "churned_subscribers",
                "ending_subscribers",
            )
        ]
    # January is the data's first month: its subscribers count as new, and the page says why.
    assert any("count as new in January" in c.value for c in at.caption)


def test_refunds_equal_the_refunds_mart_and_a_range_without_any_says_so(marts):
    at = _run({"range": [str(START), str(END)], "tab": "Refunds"})
    days = _in(marts("rev_refunds_daily"), "refund_date", START, END)
    cards = _cards(at)
    assert cards["Refunds (count)"][0] == format_value(days["refund_count"].sum(), "count")
    ratio = days["refunded_amount"].sum() / days["purchase_revenue"].sum()
    assert cards["Refund-to-sales ratio"][0] == format_value(ratio, "percent")
    table = _frame(at, "refunded_amount")
    expected = days.filter(pl.col("refund_count") > 0).sort("refund_date", descending=True)
    assert list(table["refund_date"]) == [str(d) for d in expected["refund_date"]]
    assert list(table["refunded_amount"]) == pytest.approx(expected["refunded_amount"].to_list())

    quiet = _run({"range": ["2026-02-15", "2026-02-28"], "tab": "Refunds"})
    assert any("No refunds in this period" in i.value for i in quiet.info)


def test_measure_comparison_and_a_day_drill_down_come_from_the_url(marts):
    day = dt.date(2026, 2, 13)
    at = _run(
        {
            "range": [str(START), str(END)],
            "compare": "No comparison",  # bound by its label
            "stream_measure": "Refunds",
            "drill": f"day:{day}",
        }
    )
    cards = _cards(at)
    assert all(delta == "" for _, delta in cards.values())
    captions = " ".join(c.value for c in at.caption)
    assert "Feb 13, 2026" in captions and " vs " not in captions
    net = _expected(marts, day, day)["Net revenue"]
    assert cards["Net revenue"][0] == format_value(net, "currency", compact=True)
    assert any(b.label == "Day: 2026-02-13" for b in at.button)  # the breadcrumb
