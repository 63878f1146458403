"""Filters are built from validated names and quoted literals, never from pasted text."""

import datetime as dt

import pytest

from analytics.filters import (
    FilterError,
    check_dimension_name,
    normalize_values,
    quote_literal,
    where_clause,
    where_clauses,
)


def test_text_is_quoted_with_doubled_quotes():
    assert quote_literal("US") == "'US'"
    assert quote_literal("O'Brien") == "'O''Brien'"
    assert quote_literal("x' OR '1'='1") == "'x'' OR ''1''=''1'"
    assert quote_literal("") == "''"


def test_jinja_braces_never_reach_the_template():
    literal = quote_literal("{{ Dimension('user__plan') }}")
    assert "{" not in literal and "}" not in literal
    assert (
        literal == "(chr(123) || chr(123) || ' Dimension(''user__plan'') ' || chr(125) || chr(125))"
    )
    assert "{%" not in quote_literal("{% raw %}") and "{#" not in quote_literal("{# c #}")


def test_other_literals():
    assert quote_literal(7) == "7"
    assert quote_literal(0.5) == "0.5"
    assert quote_literal(True) == "TRUE"
    assert quote_literal(dt.date(2026, 2, 1)) == "DATE '2026-02-01'"
    for bad in (float("nan"), float("inf"), dt.datetime(2026, 1, 1), b"x", object(), "a\x00b"):
        with pytest.raises(FilterError):
            quote_literal(bad)


def test_dimension_names_are_checked():
    assert check_dimension_name("user__country") == "user__country"
    for bad in ("country", "User__country", "user__", "user__country; drop", "__x", "a____b", 3):
        with pytest.raises(FilterError):
            check_dimension_name(bad)  # type: ignore[arg-type]


def test_where_clauses():
    assert where_clause("user__country", ("US",)) == "{{ Dimension('user__country') }} = 'US'"
    assert (
        where_clause("user__country", ("GB", "US"))
        == "{{ Dimension('user__country') }} IN ('GB', 'US')"
    )
    assert where_clause("user__plan", ("free", None)) == (
        "({{ Dimension('user__plan') }} = 'free' OR {{ Dimension('user__plan') }} IS NULL)"
    )
    clauses = where_clauses({"user__platform": ("ios",), "user__country": ("US",)})
    assert clauses[0].startswith("{{ Dimension('user__country') }}")  # stable order


def test_values_are_normalized():
    assert normalize_values("US") == ("US",)
    assert normalize_values(["US", "GB", "US"]) == ("GB", "US")
    assert normalize_values([None, "free"]) == ("free", None)
    with pytest.raises(FilterError):
        normalize_values([])
