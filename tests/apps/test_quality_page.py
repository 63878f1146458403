"""The Data quality page (AppTest) on a copy of the shared demo's lake, with a failing check run
and detected anomalies added the way the platform writes them: the cards and tables equal an
independent recomputation from the Delta tables; failures come first with their severity; the
range, comparison and dimension come from the URL; an empty lake says what to run."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analytics.charts import format_change, format_value
from core.settings import Settings, get_settings

pytestmark = pytest.mark.integration

PAGE = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views" / "quality.py")
UTC = dt.UTC
ANOMALY_DAYS = {dt.date(2026, 2, 24): 1, dt.date(2026, 2, 25): 2}


def _seed(settings: Settings) -> None:
    from deltalake import write_deltalake

    from quality.anomaly import ANOMALY_SCHEMA
    from quality.gx_suites import ExpectationOutcome, SuiteResult
    from quality.results import append_results

    suite = "marts.fct_sessions_suite"
    outcomes = [
        ExpectationOutcome(
            "expect_column_values_to_be_between(duration)", False, {"unexpected_count": 5}, "warn"
        ),
        ExpectationOutcome(
            "expect_column_values_to_be_unique(session_id)", False, {"unexpected_count": 2}
        ),
        ExpectationOutcome(
            "expect_column_values_to_not_be_null(session_id)", True, {"unexpected_count": 0}
        ),
    ]
    append_results(
        settings,
        "seeded-run",
        {"fct_sessions": SuiteResult(suite, False, outcomes)},
        {"fct_sessions": "fct_sessions"},
    )
    rows = []
    for day, n in ANOMALY_DAYS.items():
        for i in range(n):
            start = dt.datetime.combine(day, dt.time(10 + i), UTC)
            rows.append(
                {"kind": "volume_drop", "series": f"Workout Completed {i}", "property": None,
                 "window_start": start, "window_end": start + dt.timedelta(minutes=30),
                 "observed": 2.0, "expected": 31.0, "p_value": 1e-9}
            )  # fmt: skip
    anomalies = pl.DataFrame(rows, schema=ANOMALY_SCHEMA).with_columns(
        detected_at=pl.lit(dt.datetime.now(UTC))
    )
    write_deltalake(
        str(settings.table_path("system", "event_anomalies")), anomalies.to_arrow(), mode="append"
    )


@pytest.fixture(scope="module")
def lake(demo_run, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("quality") / "data"
    data_dir.mkdir()
    shutil.copytree(demo_run[0] / "lake", data_dir / "lake")
    settings = Settings(data_dir=data_dir)
    _seed(settings)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULSE_DATA_DIR", str(data_dir))
        _fresh()
        yield settings
    _fresh()


def _fresh() -> None:
    get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()


def _read(settings: Settings, layer: str, table: str) -> pl.DataFrame:
    return pl.read_delta(str(settings.table_path(layer, table)))


def _run(params: dict | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run()


def _metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _text(at: AppTest) -> str:
    return "\n".join(e.value for e in [*at.caption, *at.markdown, *at.info, *at.success])


def test_cards_and_tables_equal_an_independent_recomputation(lake):
    scores = _read(lake, "system", "quality_scores")
    quarantine = _read(lake, "bronze", "quarantine")
    first = scores["date"].min()
    last = max(scores["date"].max(), quarantine["received_date"].max())
    at = _run({"range": [str(first), str(last)], "compare": "No comparison"})
    assert not at.exception, [e.message for e in at.exception]
    shown = _metrics(at)

    latest = scores.sort("date").group_by("table").last()
    assert shown["Tables meeting target"][0] == (
        f"{int(latest['meets_target'].sum())} of {latest.height}"
    )
    results = _read(lake, "system", "quality_results")
    newest = results.group_by("suite").agg(
        pl.col("run_id").sort_by("evaluated_at").last().alias("run_id")
    )
    failed = results.join(newest, on=["suite", "run_id"]).filter(~pl.col("success"))
    assert shown["Failed checks"][0] == str(failed.height) and failed.height == 2
    in_range = quarantine.filter(pl.col("received_date").is_between(first, last))
    assert shown["Quarantined messages"][0] == format_value(in_range.height, "count", compact=True)
    assert shown["Anomalous windows"][0] == str(sum(ANOMALY_DAYS.values()))

    failures = next(d.value for d in at.dataframe if "severity" in d.value.columns)
    assert failures["severity"].tolist() == ["error", "warn"]  # failures, errors first
    assert failures["expectation"].iloc[0] == "expect_column_values_to_be_unique(session_id)"
    reasons = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    expected = in_range.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    assert reasons["reason"].tolist() == expected["reason"].to_list()
    assert reasons["messages"].tolist() == expected["len"].to_list()
    table = next(d.value for d in at.dataframe if "meets_target" in d.value.columns)
    assert sorted(table["table"].tolist()) == sorted(latest["table"].to_list())
    suites = newest.height
    assert f"{suites - failed['suite'].n_unique()} of {suites} suites passed" in _text(at)


def test_the_comparison_period_changes_the_counts_it_can_compare(lake):
    day = dt.date(2026, 2, 25)
    at = _run({"range": [str(day), str(day)]})  # vs the day before (previous period)
    assert not at.exception
    now, before = ANOMALY_DAYS[day], ANOMALY_DAYS[day - dt.timedelta(days=1)]
    assert _metrics(at)["Anomalous windows"] == (str(now), format_change((now - before) / before))
    anomalies = next(d.value for d in at.dataframe if "kind" in d.value.columns)
    assert len(anomalies) == now
    first = _read(lake, "system", "quality_scores")["date"].min()
    at = _run({"range": [str(first), str(first)]})  # the day before has no data: no delta
    assert _metrics(at)["Anomalous windows"][1] == ""


def test_dimension_comes_from_the_url_and_says_where_it_is_measured(lake):
    scores = _read(lake, "system", "quality_scores")
    marts = scores.filter(pl.col("table").str.starts_with("marts."))
    first, last = marts["date"].min(), marts["date"].max()
    at = _run({"range": [str(first), str(last)], "dimension": "Validity"})  # bound by its label
    assert not at.exception
    assert any("validity and timeliness are measured on bronze only" in i.value for i in at.info)
    at = _run({"range": [str(first), str(last)], "dimension": "Completeness"})
    assert not any("No completeness scores" in i.value for i in at.info)


def test_an_empty_lake_says_what_to_run(tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULSE_DATA_DIR", str(tmp_path / "data"))
        _fresh()
        at = _run()
        _fresh()
    assert not at.exception, [e.message for e in at.exception]
    assert any("No quality results yet" in i.value for i in at.info)
