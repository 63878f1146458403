"""Quoting for the SQL strings Pulse builds: every identifier and literal goes through here.

Table and column names come from the data (a lake table of the platform has a column named
``table``; an app snapshot may have ``order`` or ``plan name``), so an identifier is always
double-quoted, never pasted: that is the one rule that is right for every name, reserved words
included, in both engines Pulse sends SQL to (DuckDB, and DataFusion inside delta-rs). Quoted
identifiers are case-sensitive in both, so names are passed exactly as the table stores them.
"""

from __future__ import annotations

from collections.abc import Iterable


def quote_ident(name: str) -> str:
    """``name`` as a SQL identifier: ``table`` → ``"table"``, ``a"b`` → ``"a""b"``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an SQL identifier must be a non-empty string, not {name!r}")
    if "\x00" in name:
        raise ValueError(f"an SQL identifier cannot contain a NUL character: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def qualified(*parts: str) -> str:
    """A dotted name with every part quoted: ``qualified("main", "orders")`` → ``"main"."orders"``."""
    return ".".join(quote_ident(p) for p in parts)


def quote_literal(value: str) -> str:
    """``value`` as a SQL string literal (single quotes doubled)."""
    if "\x00" in value:
        raise ValueError("a SQL string literal cannot contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


def literal_list(values: Iterable[str]) -> str:
    """``('a', 'b')`` for an ``IN`` list (at least one value)."""
    items = [quote_literal(v) for v in values]
    if not items:
        raise ValueError("an IN list needs at least one value")
    return "(" + ", ".join(items) + ")"


def column_list(names: Iterable[str]) -> str:
    """``"a", "b"`` for a select list."""
    return ", ".join(quote_ident(n) for n in names)
