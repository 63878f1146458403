"""Erasure and export on a small world: real Delta tables, a real dbt warehouse, two gold
publications, Dagster's SQLite stores and a collector WAL.

One module-scoped world: bulk-load, flush a few of user A's events through a real WAL, build the
daily KPI models with dbt (`dbt run --select +exec_daily_kpis`: the smallest build with
user-level and aggregate tables; the full graph through Dagster is too slow for the test budget),
publish two gold publications of them. Then erase A with the CLI and check, with a scan written
independently of the code under test, that no file of the data dir, no older Delta version and no
`_delta_log` entry still holds A's id, anonymous id or PII tokens, while every other user's rows
are untouched; rebuilding the models then drops A from the DAU.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

pytestmark = pytest.mark.integration

KPI_SELECTION = "+exec_daily_kpis"
GOLD_MODELS = ("exec_daily_kpis", "stg_events")  # an aggregate and a user-level model


def _bronze(settings, table="events") -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(str(settings.table_path("bronze", table))).to_pyarrow_table())


def _traces(settings, needles: list[str]) -> list[str]:
    """Independent scan: raw bytes of every file, decoded Parquet rows, DuckDB tables."""
    from lake.audit import audit_path

    skip = (settings.sim_dir, audit_path(settings))
    hits = []
    for path in sorted(Path(settings.data_dir).rglob("*")):
        if not path.is_file() or any(path.is_relative_to(s) for s in skip):
            continue
        data = path.read_bytes()
        text = data.decode("latin-1")
        if data[:4] == b"PAR1":
            text += str(pq.read_table(path).to_pylist())
        if path == settings.warehouse_path:
            with duckdb.connect(str(path), read_only=True) as con:
                for schema, table in con.execute(
                    "select table_schema, table_name from information_schema.tables"
                ).fetchall():
                    text += str(con.execute(f'select * from "{schema}"."{table}"').fetchall())
        hits += [f"{path.relative_to(settings.data_dir)}:{n}" for n in needles if n in text]
    return hits


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from bench.transform import run_dbt
    from core.settings import get_settings
    from lake.collector.flusher import Flusher
    from lake.ingest import bulk_load
    from lake.pipeline import prepare
    from lake.privacy import key_bytes
    from lake.simulator import SimConfig, generate_world, write_world
    from lake.snapshots import load_snapshots
    from lake.validation import to_us
    from lake.wal import WriteAheadLog
    from lake.writer import DeltaSink
    from orchestration.dbt_project import prepare_manifest

    data = tmp_path_factory.mktemp("erasure") / "data"
    saved = os.environ.get("PULSE_DATA_DIR")
    os.environ["PULSE_DATA_DIR"] = str(data)
    get_settings.cache_clear()
    settings = get_settings()
    prepare_manifest(settings)
    world = generate_world(SimConfig(users=40, days=21, seed=5))
    write_world(world, settings.sim_dir)
    load_snapshots(settings.sim_dir, settings)
    bulk_load(world.messages, settings, source_id="sim")

    events = _bronze(settings)
    ranked = (
        events.filter(pl.col("user_id").is_not_null())
        .group_by("user_id")
        .len()
        .sort(["len", "user_id"], descending=True)
    )
    user_a, user_b = ranked["user_id"][0], ranked["user_id"][1]
    anon_a = events.filter(pl.col("user_id") == user_a)["anonymous_id"].drop_nulls().unique()[0]
    # Two more events of A through a real collector WAL, flushed: the segment keeps them.
    last = events["timestamp"].max()
    msgs = [
        {
            "type": "track",
            "event": "App Opened",
            "userId": user_a,
            "anonymousId": anon_a,
            "messageId": f"wal-{i}",
            "timestamp": (last - dt.timedelta(hours=i)).isoformat(),
        }
        for i in range(2)
    ]
    records = prepare(
        msgs, key=key_bytes(settings.pii_hmac_key), source_id="app", received_at_us=to_us(last)
    ).records
    wal = WriteAheadLog(settings.wal_dir / settings.collector_id)
    wal.append(records)
    Flusher(settings, DeltaSink(settings), wal).flush_all()
    wal.close()
    dbt = run_dbt(settings, ["run", "--select", KPI_SELECTION], data.parent / "dbt")
    assert dbt["returncode"] == 0 and not dbt["failed"], dbt
    from lake import gold
    from orchestration.warehouse import read_only

    for _ in range(2):  # an older retained publication must be cleaned too
        with read_only(settings) as con:
            gold.publish(
                settings,
                {m: con.sql(f"select * from {_relation(m)}").to_arrow_table() for m in GOLD_MODELS},
            )
    # What ML, reports and Dagster leave beside the tables (written here rather than by the slow
    # assets themselves): scores per user, an HTML report embedding rows, a SQLite run store
    # whose run config names the user, a log line.
    users = ranked["user_id"].to_list()
    pl.DataFrame({"user_id": users, "churn_probability": [0.5] * len(users)}).write_parquet(
        settings.gold_dir / "churn_scores.parquet", compression="zstd"
    )
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / "drift_report.html").write_text(
        f'<html><script>var rows = [{{"user_id": "{user_a}"}}, {{"user_id": "{user_b}"}}];'
        "</script></html>"
    )
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(settings.dagster_home / "runs.db") as db:
        db.execute("create table runs (run_id text, run_body text)")
        db.execute(
            "insert into runs values ('r1', ?)", (orjson.dumps({"user_id": user_a}).decode(),)
        )
    (settings.data_dir / "logs").mkdir(exist_ok=True)
    (settings.data_dir / "logs" / "collector.log").write_text(f"ack anonymous_id={anon_a}\n")
    yield {"settings": settings, "a": user_a, "b": user_b, "anon_a": anon_a}
    get_settings.cache_clear()
    if saved is None:
        os.environ.pop("PULSE_DATA_DIR", None)
    else:
        os.environ["PULSE_DATA_DIR"] = saved


def _relation(model: str) -> str:
    from orchestration.dbt_project import require_manifest
    from orchestration.warehouse import load_manifest, models_from_manifest

    return models_from_manifest(load_manifest(require_manifest()))[model].relation


def _dau(settings) -> dict:
    from orchestration.warehouse import read_only

    with read_only(settings) as con:
        query = f"select kpi_date, dau from {_relation('exec_daily_kpis')}"
        return dict(con.execute(query).fetchall())


def test_export_writes_everything_held_about_the_user(world, tmp_path):
    from lake.audit import read, subject_token
    from pulse.cli import main

    settings, user = world["settings"], world["b"]
    out = tmp_path / "export.json"
    result = CliRunner().invoke(main, ["privacy", "export", "--user", user, "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    bronze = _bronze(settings).filter(pl.col("user_id") == user)
    assert doc["user_id"] == user and doc["subject"] == subject_token(settings, user)
    assert len(doc["tables"]["lake/bronze/events"]) >= bronze.height > 0
    assert {r["message_id"] for r in doc["tables"]["lake/bronze/events"]} >= set(
        bronze["message_id"]
    )
    assert any(t.startswith("warehouse/") for t in doc["tables"])
    assert any(t.startswith("file/lake/gold/publications/") for t in doc["tables"])
    assert doc["linked_anonymous_ids"] and all(
        t.startswith("hmac:") for t in doc["pseudonymized_pii_tokens"]
    )
    entries = read(settings, action="export", subject=subject_token(settings, user)).to_pylist()
    assert entries and entries[-1]["rows"] == doc["rows"]


def test_erasure_refuses_while_the_warehouse_is_locked(world):
    from lake.privacy_ops import requests
    from lake.privacy_ops.erasure import erase_user
    from lake.privacy_ops.warehouse import WarehouseLocked

    settings, user = world["settings"], world["a"]
    before = _bronze(settings).height
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(60)",
            str(settings.warehouse_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseLocked, match="in use by another process"):
            erase_user(settings, user)
    finally:
        holder.kill()
        holder.wait()
    assert _bronze(settings).height == before  # nothing touched
    from lake.audit import subject_token

    assert requests.for_subject(settings, subject_token(settings, user))[-1]["status"] == "failed"


def test_erase_leaves_no_trace(world):
    from lake.audit import read, subject_token
    from lake.privacy_ops import requests
    from pulse.cli import main

    settings, user, anon = world["settings"], world["a"], world["anon_a"]
    events = _bronze(settings)
    mine = events.filter((pl.col("user_id") == user) | (pl.col("anonymous_id") == anon))
    tokens = sorted(
        {
            t
            for s in mine["traits"].drop_nulls()
            for t in orjson.loads(s).values()
            if isinstance(t, str) and t.startswith("hmac:")
        }
    )
    needles = [user, anon, *tokens]
    assert tokens and _traces(settings, needles)  # the world really holds A everywhere
    assert any("_delta_log" in h for h in _traces(settings, [user]))
    others_before = events.filter(~pl.col("message_id").is_in(mine["message_id"].to_list()))
    dau_before = _dau(settings)
    dates = {d for d in mine["event_date"].to_list()}
    old_version = DeltaTable(str(settings.table_path("bronze", "events"))).version()

    world["dau_before"], world["dates"] = dau_before, dates
    result = CliRunner().invoke(main, ["privacy", "erase", "--user", user, "--no-rederive"])
    assert result.exit_code == 0, result.output
    assert "rows removed:" in result.output and "lake/bronze/events" in result.output
    assert "verified:" in result.output and "run `pulse materialize`" in result.output

    assert _traces(settings, needles) == []
    after = _bronze(settings)
    assert after.height == others_before.height
    assert after.sort("message_id").equals(others_before.sort("message_id"))
    with pytest.raises(DeltaError):  # versions before the erasure are gone
        DeltaTable(str(settings.table_path("bronze", "events")), version=old_version - 1)

    subject = subject_token(settings, user)
    request = requests.for_subject(settings, subject)[-1]
    assert request["status"] == "completed"
    assert request["rows_removed"]["lake/bronze/events"] == mine.height
    assert request["rows_removed"]["wal"] == 2
    assert request["rows_removed"]["file/lake/gold/churn_scores.parquet"] == 1
    assert request["rows_removed"]["sqlite/dagster_home/runs.db"] == 1
    assert "text/reports/drift_report.html" in request["rows_removed"]
    assert world["b"] in (settings.reports_dir / "drift_report.html").read_text()
    scores = pl.read_parquet(settings.gold_dir / "churn_scores.parquet")
    assert user not in scores["user_id"].to_list() and world["b"] in scores["user_id"].to_list()
    erasures = read(settings, action="erasure", subject=subject).to_pylist()
    assert {e["target"] for e in erasures} >= {"lake/bronze/events", "*"}
    assert user not in str(read(settings).to_pylist())


def test_rebuilt_aggregates_stop_counting_the_erased_user(world, tmp_path):
    from bench.transform import run_dbt

    settings, dau_before, dates = world["settings"], world["dau_before"], world["dates"]
    # Rebuild the aggregate alone from the (erased) staging tables: the CLI's default
    # re-derivation runs the whole graph, too slow for the test budget.
    dbt = run_dbt(settings, ["run", "--full-refresh", "--select", "exec_daily_kpis"], tmp_path)
    assert dbt["returncode"] == 0 and not dbt["failed"], dbt
    dau_after = _dau(settings)
    # A no longer counts: at most one less on days A had events, unchanged elsewhere.
    assert all(dau_before[d] - 1 <= dau_after[d] <= dau_before[d] for d in dates if d in dau_before)
    assert sum(dau_before[d] - dau_after[d] for d in dates if d in dau_before) >= 1
    assert all(dau_after[d] == dau_before[d] for d in dau_before if d not in dates)


def test_second_erasure_finds_nothing_and_says_so(world):
    from pulse.cli import main

    result = CliRunner().invoke(main, ["privacy", "erase", "--user", world["a"]])
    assert result.exit_code == 0, result.output
    assert "already erased" in result.output and "rows removed" not in result.output


def test_unknown_user_gets_a_clear_message_and_exit_code(world):
    from pulse.cli import main

    result = CliRunner().invoke(main, ["privacy", "erase", "--user", "usr_never_seen_0"])
    assert result.exit_code == 3, result.output
    assert "no data held about this user" in result.output
    result = CliRunner().invoke(main, ["privacy", "erase", "--user", " "])
    assert result.exit_code == 2 and "--user" in result.output
