"""Who a data subject is in our data, and which rows are theirs.

A subject is a ``user_id`` plus every identifier linked to it in the data:

* the ``anonymous_id`` and ``previous_id`` values of rows whose ``user_id`` is the subject
  (identify/alias events link the device's anonymous id to the user);
* the pseudonymized PII tokens (``hmac:<key id>:<32 hex>``, see :mod:`lake.privacy`) found in the JSON
  columns of those rows, unless the same token also appears in rows of another user (two members
  with the same name share the name's token: such a token identifies nobody alone and is not used).

A row belongs to the subject when one of its string columns *is* one of the identifiers, or one
of its JSON text columns contains one as a JSON string (``"usr_..."``), and its ``user_id`` (when
the table has one) is null or the subject's: an event of another user on a shared device keeps
its anonymous id and stays. :func:`row_predicate` writes that rule as SQL that both DuckDB and
delta-rs (DataFusion) evaluate, so the same rule counts, deletes and exports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson

from lake.sql import literal_list, quote_ident, quote_literal

USER_COLUMN = "user_id"
_USER = quote_ident(USER_COLUMN)  # as it appears in SQL
# Columns whose values are identities (exact match); any other string column is matched too.
IDENTITY_COLUMNS = ("user_id", "anonymous_id", "previous_id")
# `hmac:<key id>:<32 hex>` (lake.privacy.pseudonymize); the key id is optional for tokens made
# before key ids existed.
TOKEN_RE = re.compile(r"hmac:(?:[0-9a-f]+:)?[0-9a-f]{32}")
TOKEN_SQL_RE = "hmac:(?:[0-9a-f]+:)?[0-9a-f]{32}"


@dataclass(frozen=True)
class Identity:
    """The subject's identifiers. ``user_id`` is never written anywhere by Pulse's privacy code:
    request records and audit rows use ``lake.audit.subject_token`` instead."""

    user_id: str
    anonymous_ids: frozenset[str] = field(default_factory=frozenset)
    tokens: frozenset[str] = field(default_factory=frozenset)

    @property
    def ids(self) -> list[str]:
        """Identity values (user id first, then linked ids, sorted)."""
        return [self.user_id, *sorted(self.anonymous_ids - {self.user_id})]

    @property
    def needles(self) -> list[str]:
        """Every value that identifies the subject: what verification looks for in any file."""
        return [*self.ids, *sorted(self.tokens)]

    def merge(self, anonymous_ids: Iterable[str], tokens: Iterable[str]) -> Identity:
        return Identity(
            self.user_id,
            self.anonymous_ids | {a for a in anonymous_ids if a},
            self.tokens | set(tokens),
        )


@dataclass(frozen=True)
class Column:
    name: str
    is_string: bool
    is_json: bool = False  # string column holding JSON text (payload, traits, context ...)


def validate_user_id(user_id: str) -> str:
    value = (user_id or "").strip()
    if not value:
        raise ValueError("--user must be a non-empty user id")
    if value != user_id or len(value) > 512 or any(ord(c) < 32 for c in value):
        raise ValueError(
            "--user must be the user id exactly as the app sends it (no surrounding spaces or "
            "control characters, at most 512 characters)"
        )
    return value


def json_needle(value: str) -> str:
    """How ``value`` appears inside JSON text written by orjson (quoted, escaped)."""
    return orjson.dumps(value).decode()


def row_predicate(columns: Sequence[Column], identity: Identity) -> str | None:
    """SQL predicate selecting the subject's rows in a table with ``columns`` (None: the table
    has no string column, so it cannot hold them).

    With a ``user_id`` column it reads ``user_id IN (...) OR (user_id IS NULL AND <any match>)``:
    the same rule as "a match, owned by nobody else", written so that the costly JSON searches
    only run on rows without a user id (both engines skip an OR's right side when the left holds)."""
    needles = identity.needles
    listed = literal_list(needles)
    hits = []
    has_user = any(c.name == USER_COLUMN and c.is_string for c in columns)
    for col in columns:
        if not col.is_string or (has_user and col.name == USER_COLUMN):
            continue
        name = quote_ident(col.name)
        hits.append(f"{name} IN {listed}")
        if col.is_json:
            hits.extend(f"strpos({name}, {quote_literal(json_needle(v))}) > 0" for v in needles)
    if not has_user:
        return "(" + " OR ".join(hits) + ")" if hits else None
    if not hits:
        return f"{_USER} IN {listed}"
    return f"({_USER} IN {listed} OR ({_USER} IS NULL AND ({' OR '.join(hits)})))"


@dataclass(frozen=True)
class Relation:
    """A table readable by one DuckDB connection: a registered Delta dataset or a warehouse
    table. ``name`` is the SQL name; ``label`` is what reports show."""

    name: str
    label: str
    columns: tuple[Column, ...]

    def has(self, column: str) -> bool:
        return any(c.name == column and c.is_string for c in self.columns)

    @property
    def json_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.is_json]


def detect_columns(
    con, relation: str, names_types: Sequence[tuple[str, bool]]
) -> tuple[Column, ...]:
    """Columns of ``relation``; a string column is JSON when its sampled values look like JSON
    objects or arrays (so new payload columns are parsed without a list to maintain)."""
    strings = [n for n, is_str in names_types if is_str]
    looks_json: dict[str, bool] = dict.fromkeys(strings, False)
    if strings:
        select = ", ".join(quote_ident(n) for n in strings)
        for row in con.execute(f"select {select} from {relation} limit 200").fetchall():
            for name, value in zip(strings, row, strict=True):
                if isinstance(value, str) and value[:1] in ("{", "["):
                    looks_json[name] = True
    return tuple(Column(n, s, looks_json.get(n, False)) for n, s in names_types)


def resolve(con, relations: Sequence[Relation], user_id: str) -> Identity:
    """The subject's identity as linked in ``relations`` (see the module docstring)."""
    identity = Identity(user_id)
    linked: set[str] = set()
    uid = quote_literal(user_id)
    for rel in relations:
        if not rel.has(USER_COLUMN):
            continue
        for column in ("anonymous_id", "previous_id"):
            if rel.has(column):
                c = quote_ident(column)
                rows = con.execute(
                    f"select distinct {c} from {rel.name} where {_USER} = {uid} and {c} is not null"
                ).fetchall()
                linked.update(r[0] for r in rows)
    identity = identity.merge(linked, ())
    ids = literal_list(identity.ids)
    mine: dict[str, set[str]] = {}  # token -> (relation, column) names where it appears
    for rel in relations:
        if not rel.has(USER_COLUMN) or not rel.json_columns:
            continue
        owner = f"{_USER} in {ids}"
        if rel.has("anonymous_id"):
            owner += f' or ({_USER} is null and "anonymous_id" in {ids})'
        for column in rel.json_columns:
            c = quote_ident(column)
            rows = con.execute(
                f"select distinct unnest(regexp_extract_all({c}, '{TOKEN_SQL_RE}')) "
                f"from {rel.name} where ({owner}) and strpos({c}, 'hmac:') > 0"
            ).fetchall()
            for (token,) in rows:
                mine.setdefault(token, set()).add(f"{rel.name}\x00{column}")
    shared: set[str] = set()
    by_place: dict[str, list[str]] = {}
    for token, places in mine.items():
        for place in places:
            by_place.setdefault(place, []).append(token)
    for place, tokens in by_place.items():
        relation, column = place.split("\x00")
        c = quote_ident(column)
        for token in tokens:
            if token in shared:
                continue
            other = con.execute(
                f"select count(*) from (select 1 from {relation} where {_USER} is not null "
                f"and {_USER} not in {ids} and strpos({c}, {quote_literal(token)}) > 0 "
                "limit 1)"
            ).fetchall()[0][0]
            if other:
                shared.add(token)
    return identity.merge((), set(mine) - shared)
