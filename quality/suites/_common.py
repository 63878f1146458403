"""Small builders shared by the layers' suites (they import GX lazily, when a suite runs)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def columns(names: Iterable[str], exact: bool = False) -> list[Any]:
    """Schema: the table has (at least, or exactly) these columns."""
    import great_expectations.expectations as gxe

    return [gxe.ExpectTableColumnsToMatchSet(column_set=list(names), exact_match=exact)]


def not_null(*names: str) -> list[Any]:
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in names]


def unique(*names: str) -> list[Any]:
    """One column unique, or a compound key when several are given."""
    import great_expectations.expectations as gxe

    if len(names) == 1:
        return [gxe.ExpectColumnValuesToBeUnique(column=names[0])]
    return [gxe.ExpectCompoundColumnsToBeUnique(column_list=list(names))]


def between(*names: str, low: float | None = 0, high: float | None = None) -> list[Any]:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column=c, min_value=low, max_value=high) for c in names
    ]


def share(*names: str) -> list[Any]:
    """Rates and shares lie in [0, 1]."""
    return between(*names, low=0, high=1)


def in_set(name: str, values: Iterable[Any], mostly: float = 1.0) -> list[Any]:
    """Accepted values (nulls are not checked: pair with :func:`not_null` where they matter)."""
    import great_expectations.expectations as gxe

    return [gxe.ExpectColumnValuesToBeInSet(column=name, value_set=sorted(values), mostly=mostly)]


def rows(low: int = 1, high: int | None = None) -> list[Any]:
    import great_expectations.expectations as gxe

    return [gxe.ExpectTableRowCountToBeBetween(min_value=low, max_value=high)]
