"""Delta maintenance on a small table with many small files: fewer files, same rows, and an
append racing the maintenance is not lost."""

from __future__ import annotations

import datetime as dt
import threading

import dagster as dg
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from orchestration.assets.maintenance import bronze_maintenance, maintain_table
from orchestration.resources import PulseResource


def _batch(day: dt.date, i: int) -> pa.Table:
    return pa.table(
        {
            "event": pa.array([f"e{j % 3}" for j in range(20)], pa.string()),
            "user_id": pa.array([f"u{(i * 20 + j) % 17}" for j in range(20)], pa.string()),
            "n": pa.array(range(20), pa.int64()),
            "event_date": pa.array([day] * 20, pa.date32()),
        }
    )


def _many_small_files(path, days: int = 3, commits: int = 8) -> int:
    rows = 0
    for d in range(days):
        for i in range(commits):
            batch = _batch(dt.date(2026, 1, 1) + dt.timedelta(days=d), i)
            write_deltalake(str(path), batch, mode="append", partition_by=["event_date"])
            rows += batch.num_rows
    return rows


def test_maintenance_compacts_zorders_and_keeps_every_row(tmp_path):
    path = tmp_path / "events"
    rows = _many_small_files(path)
    assert len(DeltaTable(str(path)).file_uris()) == 24

    report = maintain_table(
        path, "events", zorder_columns=["event", "user_id"], vacuum_retention_hours=0
    )
    assert (report.files_before, report.files_after) == (24, 3)  # one file per partition
    assert report.partitions_rewritten == 3
    assert report.vacuumed_files == 24
    table = DeltaTable(str(path))
    assert table.to_pyarrow_table().num_rows == rows
    # a second pass has nothing to do
    again = maintain_table(path, "events", zorder_columns=["event", "user_id"])
    assert again.partitions_rewritten == 0 and again.files_after == 3


def test_appends_racing_maintenance_are_not_lost(tmp_path):
    path = tmp_path / "events"
    rows = _many_small_files(path, days=4, commits=6)
    appended = []

    def writer() -> None:
        from deltalake.transaction import CommitProperties

        for i in range(15):
            batch = _batch(dt.date(2026, 1, 1 + i % 4), 100 + i)
            write_deltalake(
                str(path),
                batch,
                mode="append",
                partition_by=["event_date"],
                commit_properties=CommitProperties(max_commit_retries=50),
            )
            appended.append(batch.num_rows)

    thread = threading.Thread(target=writer)
    thread.start()
    maintain_table(path, "events", zorder_columns=["event", "user_id"], max_conflict_retries=10)
    thread.join()
    assert DeltaTable(str(path)).to_pyarrow_table().num_rows == rows + sum(appended)


def test_asset_reports_file_counts(pulse_settings):
    path = pulse_settings.table_path("bronze", "events")
    _many_small_files(path, days=2, commits=3)
    result = bronze_maintenance(
        context=dg.build_asset_context(),
        config={"vacuum_retention_hours": 0},
        pulse=PulseResource.from_settings(pulse_settings),
    )
    assert result.metadata["files_before"] == 6
    assert result.metadata["files_after"] == 2
    assert result.metadata["tables"].data["quarantine"]["skipped"] == "not a Delta table yet"
