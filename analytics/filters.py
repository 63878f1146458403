"""Safe MetricFlow ``where`` filters (pure).

MetricFlow's filters are Jinja templates of SQL (``{{ Dimension('user__country') }} = 'US'``) and
take no bind parameters, so a filter is built only from

- a dimension name that the semantic manifest lists for the metric (checked by the caller against
  :attr:`analytics.catalogue.MetricInfo.dimensions`; :func:`check_dimension_name` checks its shape),
- literals quoted here: strings in single quotes with quotes doubled, and the characters Jinja
  reacts to (``{``, ``}``) written as ``chr(123)``/``chr(125)`` so the template renderer never
  sees them; numbers must be finite; dates as ``DATE 'YYYY-MM-DD'``.

A user's text is never pasted into a filter.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from lake.sql import quote_ident

# entity__dimension (entity links may repeat: a__b__c). Lower case, as MetricFlow normalizes names.
_DIMENSION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_VALUES = 1000
_MAX_TEXT = 1000


class FilterError(ValueError):
    """A filter the query layer will not build; the message says what was wrong."""


def check_dimension_name(name: str) -> str:
    """``name`` if it looks like a MetricFlow dimension name (``entity__dimension``), else raise.
    Membership in the metric's dimensions is checked by the caller."""
    if not isinstance(name, str) or not _DIMENSION_NAME.match(name) or "__" not in name:
        raise FilterError(
            f"invalid dimension name {name!r}: expected entity__dimension, e.g. user__country"
        )
    if any(not part for part in name.split("__")):
        raise FilterError(f"invalid dimension name {name!r}: empty part between '__'")
    return name


def quote_literal(value: Any) -> str:
    """``value`` as a SQL literal that is also inert as Jinja text."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FilterError(f"filter value {value!r} is not a finite number")
        return repr(value)
    if isinstance(value, dt.datetime):
        raise FilterError("filter on a date, not a datetime: dimensions here are dates or text")
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise FilterError(f"filter value is longer than {_MAX_TEXT} characters")
        if "\x00" in value:
            raise FilterError("filter value contains a NUL character")
        return _quote_text(value)
    raise FilterError(
        f"filter values must be text, numbers, booleans or dates, not {type(value).__name__}"
    )


def _quote_text(text: str) -> str:
    # Split on the Jinja-significant braces; each piece is a plain quoted string.
    parts: list[str] = []
    for piece in re.split(r"([{}])", text):
        if piece == "{":
            parts.append("chr(123)")
        elif piece == "}":
            parts.append("chr(125)")
        elif piece:
            parts.append("'" + piece.replace("'", "''") + "'")
    if not parts:
        return "''"
    return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"


def normalize_values(value: Any) -> tuple[Any, ...]:
    """A filter's value(s) as a sorted, de-duplicated tuple (None allowed: IS NULL)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        values: Sequence[Any] = [value]
    else:
        values = list(value)
    if not values:
        raise FilterError("a filter needs at least one value")
    if len(values) > _MAX_VALUES:
        raise FilterError(f"a filter takes at most {_MAX_VALUES} values")
    unique = list(dict.fromkeys(values))
    return tuple(sorted(unique, key=lambda v: (v is None, type(v).__name__, str(v))))


def where_clause(dimension: str, values: Sequence[Any]) -> str:
    """``{{ Dimension('<dimension>') }} = <literal>`` / ``IN (...)`` / ``IS NULL`` (one filter)."""
    check_dimension_name(dimension)
    ref = "{{ Dimension('" + dimension + "') }}"
    present = [v for v in values if v is not None]
    has_null = len(present) < len(values)
    clauses = []
    if len(present) == 1:
        clauses.append(f"{ref} = {quote_literal(present[0])}")
    elif present:
        clauses.append(f"{ref} IN ({', '.join(quote_literal(v) for v in present)})")
    if has_null:
        clauses.append(f"{ref} IS NULL")
    return clauses[0] if len(clauses) == 1 else "(" + " OR ".join(clauses) + ")"


def where_clauses(filters: Mapping[str, Sequence[Any]]) -> tuple[str, ...]:
    """One clause per dimension, in a stable order (they are ANDed by MetricFlow)."""
    return tuple(where_clause(dim, filters[dim]) for dim in sorted(filters))


def select_sql(
    source: str,
    columns_of: Sequence[str],
    *,
    label: str,
    columns: Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
    between: tuple[str, Any, Any] | None = None,
    order_by: Sequence[str] | str = (),
    descending: bool = False,
    limit: int | None = None,
    literal: Callable[[Any], str] = quote_literal,
) -> tuple[str, list[str]]:
    """``SELECT`` over ``source`` (a relation or table function) whose columns are
    ``columns_of``: the chosen ``columns``, where each ``where`` column is one of its values and
    ``between = (column, first, last)`` (inclusive; None leaves a side open), ordered, limited.
    Every name is checked against ``columns_of`` (``label`` names the table in the error) and
    quoted; every value goes through ``literal``. Returns the SQL and the selected columns."""
    wanted = list(columns) if columns else list(columns_of)
    orders = [order_by] if isinstance(order_by, str) else list(order_by)
    named = [*wanted, *(where or {}), *orders, *([between[0]] if between else [])]
    unknown = sorted({c for c in named if c not in columns_of})
    if unknown:
        raise FilterError(
            f"{label} has no column(s) {unknown}; its columns: {', '.join(columns_of)}"
        )
    clauses = [
        f"{quote_ident(column)} IN ({', '.join(literal(v) for v in normalize_values(values))})"
        for column, values in (where or {}).items()
    ]
    if between is not None:
        column, first, last = between
        if first is not None:
            clauses.append(f"{quote_ident(column)} >= {literal(first)}")
        if last is not None:
            clauses.append(f"{quote_ident(column)} <= {literal(last)}")
    sql = f"SELECT {', '.join(quote_ident(c) for c in wanted)} FROM {source}"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    if orders:
        direction = " DESC" if descending else ""
        sql += " ORDER BY " + ", ".join(f"{quote_ident(c)}{direction}" for c in orders)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, wanted
