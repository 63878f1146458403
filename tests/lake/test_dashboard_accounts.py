"""bronze/dashboard_accounts: the users table read by reflection (absent: an empty snapshot),
pseudonymous, and the demo's simulated accounts kept by later landings."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from deltalake import DeltaTable

from core import accounts
from core.metadata import engine_for
from core.settings import Settings
from lake.dashboard_accounts import Account, land_dashboard_accounts, read_accounts
from lake.internal_source import dashboard_user_id


def _snapshot(settings: Settings) -> list[dict]:
    table = DeltaTable(str(settings.table_path("bronze", "dashboard_accounts")))
    return sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["account_id"])


def test_no_users_table_lands_an_empty_snapshot(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    assert read_accounts(settings) == []
    assert land_dashboard_accounts(settings) == 0
    table = DeltaTable(str(settings.table_path("bronze", "dashboard_accounts")))
    assert table.to_pyarrow_table().num_rows == 0
    assert "account_id" in pa.schema(table.schema().to_arrow()).names


def test_users_are_landed_pseudonymous_and_simulated_accounts_are_kept(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    created = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    land_dashboard_accounts(settings, simulated=[Account("demo-viewer", "viewer", created)])
    engine = engine_for(settings)  # the sign-in's users table (core.accounts)
    accounts.add_user(engine, "ana", "admin", "a-password-for-tests")
    with engine.begin() as conn:
        conn.execute(
            accounts.USERS.update()
            .where(accounts.USERS.c.username == "ana")
            .values(created_at=created)
        )
    assert land_dashboard_accounts(settings) == 2  # ana, and the demo's account kept
    rows = {r["account_id"]: r for r in _snapshot(settings)}
    ana = rows[dashboard_user_id(settings, "ana")]
    assert (ana["role"], ana["origin"], ana["created_at"]) == ("admin", "users", created)
    assert rows[dashboard_user_id(settings, "demo-viewer")]["origin"] == "simulated"
    text = str(rows)
    assert "ana'" not in text and "password" not in text and "x'" not in text
