"""The exec_daily_kpis Great Expectations suite on good and bad frames."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from quality.gx_suites import EXEC_DAILY_KPIS_COLUMNS, validate_exec_daily_kpis


@pytest.fixture
def good_kpis() -> pd.DataFrame:
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(10)]
    return pd.DataFrame(
        {
            "kpi_date": days,
            "dau": [100 + i for i in range(10)],
            "new_users": [5] * 10,
            "gross_revenue": [250.0] * 10,
            "refunds": [10.0] * 10,
            "revenue": [240.0] * 10,
            "subscription_revenue": [200.0] * 10,
            "program_revenue": [50.0] * 10,
            "workouts_completed": [40] * 10,
        }
    )


def test_good_kpis_pass(good_kpis):
    result = validate_exec_daily_kpis(good_kpis, max_dau=1000)
    assert result.success, result.describe()
    assert len(result.outcomes) >= 10
    assert result.failed == []


def test_bad_kpis_fail_naming_the_expectations(good_kpis):
    bad = good_kpis.copy()
    bad.loc[3, "kpi_date"] = bad.loc[2, "kpi_date"]  # duplicated day
    bad.loc[5, "dau"] = -1  # negative
    bad.loc[6, "gross_revenue"] = -20.0
    result = validate_exec_daily_kpis(bad, max_dau=1000)
    assert not result.success
    assert "expect_column_values_to_be_unique(kpi_date)" in result.failed
    assert "expect_column_values_to_be_between(dau)" in result.failed
    assert "expect_column_values_to_be_between(gross_revenue)" in result.failed
    assert "expect_column_values_to_not_be_null(kpi_date)" not in result.failed
    assert "failed:" in result.describe()


def test_dau_above_the_user_count_fails(good_kpis):
    result = validate_exec_daily_kpis(good_kpis, max_dau=50)
    assert result.failed == ["expect_column_values_to_be_between(dau)"]


def test_missing_column_and_empty_table_fail(good_kpis):
    result = validate_exec_daily_kpis(good_kpis.drop(columns=["refunds"]).head(0))
    assert "expect_table_row_count_to_be_between" in result.failed
    assert "expect_table_columns_to_match_set" in result.failed
    assert set(EXEC_DAILY_KPIS_COLUMNS) - {"refunds"} <= set(good_kpis.columns)
