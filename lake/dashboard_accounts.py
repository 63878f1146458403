"""``bronze/dashboard_accounts``: who could use the dashboards (the denominator of adoption).

A snapshot of the metadata database's ``users`` table (the dashboards' sign-in accounts), landed
like the app's snapshots (:mod:`lake.snapshots`): a full overwrite per landing, a new Delta version
each time. The table is read by name with SQLAlchemy reflection, so this module does not depend on
the sign-in's code; when it does not exist yet the snapshot is empty (and still written, so dbt
always has the table). Only the pseudonymous id (:func:`lake.internal_source.dashboard_user_id`,
the same as the usage events' userId), the role and the creation time are kept: no username,
no password hash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from sqlalchemy import MetaData, Table, inspect, select

from core.settings import Settings
from lake.internal_source import dashboard_user_id

TABLE = "dashboard_accounts"
USERS_TABLE = "users"
NAME_COLUMNS = ("username", "name", "user_name")
ROLE_COLUMNS = ("role",)
CREATED_COLUMNS = ("created_at", "created")

SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("role", pa.string()),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("origin", pa.string(), nullable=False),  # users (the table) | simulated (demo)
        pa.field("_exported_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass(frozen=True)
class Account:
    """A dashboard account as the metadata database holds it (the name is hashed on landing)."""

    username: str
    role: str | None
    created_at: datetime | None


def read_accounts(settings: Settings) -> list[Account]:
    """The accounts of the metadata database's users table; [] when it has none."""
    from core.metadata import engine_for

    engine = engine_for(settings)
    if not inspect(engine).has_table(USERS_TABLE):
        return []
    table = Table(USERS_TABLE, MetaData(), autoload_with=engine)
    names = {c.name.lower(): c for c in table.columns}

    def pick(options: tuple[str, ...]):
        return next((names[o] for o in options if o in names), None)

    name, role, created = pick(NAME_COLUMNS), pick(ROLE_COLUMNS), pick(CREATED_COLUMNS)
    if name is None:
        raise ValueError(
            f"the metadata table {USERS_TABLE!r} has no username column (one of {NAME_COLUMNS})"
        )
    columns = [name, role, created]
    with engine.connect() as conn:
        rows = conn.execute(select(*[c for c in columns if c is not None])).all()
    out = []
    for row in rows:
        values = iter(row)
        username = next(values)
        out.append(
            Account(
                str(username),
                str(next(values)) if role is not None else None,
                _utc(next(values)) if created is not None else None,
            )
        )
    return out


def _utc(value: object) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def land_dashboard_accounts(
    settings: Settings,
    simulated: Iterable[Account] | None = None,
    exported_at: datetime | None = None,
) -> int:
    """Overwrite ``bronze/dashboard_accounts`` with the users table's accounts; returns the row
    count. ``simulated``: the demo's simulated accounts (origin ``simulated``); None keeps those
    of the previous snapshot, so a later landing (``pulse serve``) does not drop them."""
    stamp = exported_at or datetime.now(UTC)
    path = settings.table_path("bronze", TABLE)
    by_id: dict[str, dict] = {}
    if simulated is None:
        for row in _previous_rows(path):
            if row.get("origin") == "simulated":
                by_id[row["account_id"]] = {**row, "_exported_at": stamp}
    else:
        for account in simulated:
            by_id.update(_row(settings, account, "simulated", stamp))
    for account in read_accounts(settings):
        by_id.update(_row(settings, account, "users", stamp))
    table = pa.Table.from_pylist(list(by_id.values()), schema=SCHEMA)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), table, mode="overwrite", schema_mode="overwrite")
    return table.num_rows


def _row(settings: Settings, account: Account, origin: str, stamp: datetime) -> dict[str, dict]:
    account_id = dashboard_user_id(settings, account.username)
    return {
        account_id: {
            "account_id": account_id,
            "role": account.role,
            "created_at": account.created_at,
            "origin": origin,
            "_exported_at": stamp,
        }
    }


def _previous_rows(path) -> list[dict]:
    if not DeltaTable.is_deltatable(str(path)):
        return []
    return DeltaTable(str(path)).to_pyarrow_table().to_pylist()
