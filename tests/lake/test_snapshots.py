from datetime import UTC, datetime

import polars as pl
import pytest
from deltalake import DeltaTable

from lake.simulator import SimConfig, generate_world, write_world
from lake.snapshots import SnapshotError, load_snapshots, snapshot_table_path


@pytest.fixture
def world_dir(tmp_path):
    world = generate_world(
        SimConfig(users=40, days=3, seed=5, end_date=datetime(2026, 2, 1).date())
    )
    write_world(world, tmp_path / "sim")
    return tmp_path / "sim"


def test_each_export_lands_as_a_new_version_of_its_bronze_table(world_dir, pulse_settings):
    first = load_snapshots(world_dir, pulse_settings, exported_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert {r.table: r.version for r in first} == dict.fromkeys(
        ["users", "programs", "trainers", "plans"], 0
    )
    second = load_snapshots(world_dir, pulse_settings)
    assert all(r.version == 1 for r in second)

    users = pl.from_arrow(
        DeltaTable(str(snapshot_table_path(pulse_settings, "users"))).to_pyarrow_table()
    )
    assert users.height == 40 and users["user_id"].n_unique() == 40
    assert "_exported_at" in users.columns
    assert not {"email", "phone"} & set(users.columns)
    old = DeltaTable(
        str(snapshot_table_path(pulse_settings, "users")), version=0
    ).to_pyarrow_table()
    assert old.column("_exported_at")[0].as_py() == datetime(2026, 2, 1, tzinfo=UTC)


def test_a_bad_export_is_refused_before_anything_is_written(world_dir, pulse_settings):
    plans = pl.read_parquet(world_dir / "plans.parquet")
    pl.concat([plans, plans.head(1)]).write_parquet(world_dir / "plans.parquet")
    with pytest.raises(SnapshotError, match="plan_id is not unique"):
        load_snapshots(world_dir, pulse_settings)
    assert not snapshot_table_path(pulse_settings, "users").exists()


def test_an_export_with_pii_columns_is_refused(world_dir, pulse_settings):
    users = pl.read_parquet(world_dir / "users.parquet")
    users.with_columns(email=pl.lit("someone@example.com")).write_parquet(
        world_dir / "users.parquet"
    )
    with pytest.raises(SnapshotError, match="PII"):
        load_snapshots(world_dir, pulse_settings)
