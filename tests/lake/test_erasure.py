"""Erasure and export on a data dir that a full ``pulse demo`` (every asset materialized) produced:
every table the platform writes (bronze, system tables such as ``quality_scores`` with its
``table`` column, the dbt warehouse, gold publications, churn scores, Dagster's SQLite stores, the
collector WAL), plus tables whose names and columns are reserved words (``table``, ``select``,
``order``) or hold spaces and quotes, in the lake, the warehouse and a SQLite file.

The module copies the shared demo (tests/conftest.py ``demo_run``), adds two of user A's events
through a real WAL, the odd tables and a second gold publication. Then erase A with the CLI and
check, with a scan written independently of the code under test, that no file of the data dir, no
older Delta version and no `_delta_log` entry still holds A's id, anonymous id or PII tokens, while
every other user's rows are untouched; rebuilding the models then drops A from the DAU.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError

pytestmark = pytest.mark.integration

GOLD_MODELS = ("exec_daily_kpis", "stg_events")  # an aggregate and a user-level model
# Names that break SQL pasted without quoting: reserved words, a space, both kinds of quote.
ODD_LAKE_TABLE = ("bronze", 'app odd "names"')
ODD_WAREHOUSE_TABLE = 'odd "table" name'
ODD_SQLITE = ("dagster_home", "storage", "odd names.db")
QUOTED_COLUMN = 'it\'s "quoted"'


def _bronze(settings, table="events") -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(str(settings.table_path("bronze", table))).to_pyarrow_table())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
                    relation = f"{_quoted(schema)}.{_quoted(table)}"
                    text += str(con.execute(f"select * from {relation}").fetchall())
        hits += [f"{path.relative_to(settings.data_dir)}:{n}" for n in needles if n in text]
    return hits


def _odd_rows(user_a: str, anon_a: str, user_b: str) -> dict[str, list]:
    """Two rows of A (one only through its anonymous id inside JSON), one of B."""
    return {
        "table": [user_a, "nobody", user_b],
        "select": ["{}", orjson.dumps({"device": anon_a}).decode(), "{}"],
        "order": [1, 2, 3],
        "plan name": ["basic", "pro", "basic"],
        QUOTED_COLUMN: ["x", "y", user_b],
    }


def _add_odd_tables(settings, user_a: str, anon_a: str, user_b: str) -> None:
    rows = _odd_rows(user_a, anon_a, user_b)
    write_deltalake(str(settings.table_path(*ODD_LAKE_TABLE)), pa.table(rows))
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(
            f"create table main.{_quoted(ODD_WAREHOUSE_TABLE)} as "
            "select * from (values (?, ?, 1, 'basic', 'x'), (null, ?, 2, 'pro', 'y'), "
            "(?, '{}', 3, 'basic', ?)) "
            f'as t("user_id", "select", "order", "plan name", {_quoted(QUOTED_COLUMN)})',
            [user_a, "{}", orjson.dumps({"device": anon_a}).decode(), user_b, user_b],
        )
    sqlite_path = settings.data_dir.joinpath(*ODD_SQLITE)
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(sqlite_path) as db:
        db.execute('create table "select" ("order" text, "plan name" text)')
        db.executemany(
            'insert into "select" values (?, ?)',
            [(orjson.dumps({"user_id": user_a}).decode(), "basic"), (user_b, "pro")],
        )


@pytest.fixture(scope="module")
def world(demo_run, tmp_path_factory):
    from core.settings import get_settings
    from lake.collector.flusher import Flusher
    from lake.pipeline import prepare
    from lake.privacy import key_bytes
    from lake.validation import to_us
    from lake.wal import WriteAheadLog
    from lake.writer import DeltaSink

    data = tmp_path_factory.mktemp("erasure") / "data"
    # The dbt target under the data dir is a parse cache: the copy parses again if it needs to.
    shutil.copytree(demo_run[0], data, ignore=shutil.ignore_patterns("dbt"))
    saved = os.environ.get("PULSE_DATA_DIR")
    os.environ["PULSE_DATA_DIR"] = str(data)
    get_settings.cache_clear()
    settings = get_settings()
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
    from lake import gold
    from orchestration.warehouse import read_only

    # A second publication beside the demo's: an older retained publication must be cleaned too.
    with read_only(settings) as con:
        gold.publish(
            settings,
            {m: con.sql(f"select * from {_relation(m)}").to_arrow_table() for m in GOLD_MODELS},
        )
    _add_odd_tables(settings, user_a, anon_a, user_b)
    # A report embedding rows (the demo's drift report holds no user ids), in a file whose name
    # has a space and a quote, and a log line.
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / 'weekly "review".html').write_text(
        f'<html><script>var rows = [{{"user_id": "{user_a}"}}, {{"user_id": "{user_b}"}}];'
        "</script></html>"
    )
    with (settings.data_dir / "logs" / "collector.log").open("a") as log:
        log.write(f"ack anonymous_id={anon_a}\n")
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
    # Every table the platform writes is searched, reserved-word and quoted names included.
    odd_lake = "lake/" + "/".join(ODD_LAKE_TABLE)
    assert [r["table"] for r in doc["tables"][odd_lake]] == [user]
    assert doc["tables"][odd_lake][0][QUOTED_COLUMN] == user
    assert [r["user_id"] for r in doc["tables"][f"warehouse/main.{ODD_WAREHOUSE_TABLE}"]] == [user]
    assert "lake/system/quality_scores" not in doc["tables"]  # searched, holds nobody
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
    assert request["rows_removed"]["wal"] >= 2  # ours, and the demo's last day over HTTP
    assert request["rows_removed"]["file/lake/gold/churn_scores.parquet"] == 1
    # The odd tables: A's two rows (one found through the anonymous id inside JSON) are gone,
    # B's row stays.
    assert request["rows_removed"]["lake/" + "/".join(ODD_LAKE_TABLE)] == 2
    assert request["rows_removed"][f"warehouse/main.{ODD_WAREHOUSE_TABLE}"] == 2
    assert request["rows_removed"]["sqlite/" + "/".join(ODD_SQLITE)] == 1
    odd = DeltaTable(str(settings.table_path(*ODD_LAKE_TABLE))).to_pyarrow_table().to_pylist()
    assert [(r["order"], r["table"]) for r in odd] == [(3, world["b"])]
    report = settings.reports_dir / 'weekly "review".html'
    assert 'text/reports/weekly "review".html' in request["rows_removed"]
    assert world["b"] in report.read_text()
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
