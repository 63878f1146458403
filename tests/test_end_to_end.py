"""The whole pipeline on a small simulated world, run as a user runs it (``pulse demo --no-serve``
in a subprocess), with real processes and no mocks:

simulator → history bulk-loaded + last day over HTTP to a real collector process → WAL → Delta
→ dbt (through Dagster) → published gold marts → checks, churn model, drift report.

The mart's DAU and revenue are compared with the same numbers computed independently, in polars,
from the simulator's raw events (deduplicated on messageId, malformed ones dropped).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import date

import orjson
import polars as pl
import pytest
from deltalake import DeltaTable

from lake.gold import mart_path, read_mart
from pulse.settings import Settings, get_settings

pytestmark = pytest.mark.integration

END_DATE = date(2026, 3, 2)  # fixed, so the world is the same on every run
DAYS = 14

# The written definitions (docs/metrics.md), restated here independently of the dbt macros.
ACTIVITY_TYPES = {"track", "page", "screen"}
NON_ACTIVITY_EVENTS = {
    "Model Deployed",
    "Model Rolled Back",
    "API Request",
    "Subscription Renewed",
    "Payment Failed",
}
GROSS_REVENUE_EVENTS = {"Program Purchased", "Subscription Started", "Subscription Renewed"}
REFUND_EVENTS = {"Program Refunded"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Run the user's path once for the module: ``pulse demo --no-serve`` in a subprocess."""
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    env = {
        **os.environ,
        "PULSE_DATA_DIR": str(data_dir),
        "PULSE_COLLECTOR_PORT": str(_free_port()),
        "PULSE_FLUSH_INTERVAL_SECONDS": "1",
    }
    args = ["--users", "150", "--days", str(DAYS), "--seed", "11", "--end-date", str(END_DATE)]
    result = subprocess.run(
        [sys.executable, "-m", "pulse.cli", "demo", "--no-serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "phase timings:" in result.stdout
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULSE_DATA_DIR", str(data_dir))
        get_settings.cache_clear()
        yield get_settings(), result.stdout
    get_settings.cache_clear()


def _valid_messages(settings: Settings) -> pl.DataFrame:
    """The simulator's messages minus the malformed ones (which must be quarantined) and those of
    users who had withdrawn analytics consent (which the collector must drop)."""
    truth = orjson.loads((settings.sim_dir / "ground_truth.json").read_bytes())
    malformed = set(truth["malformed_message_ids"]) | set(truth["consent"]["dropped_message_ids"])
    raw = pl.read_parquet(settings.sim_dir / "events.parquet")
    return raw.filter(pl.col("message_id").is_not_null() & ~pl.col("message_id").is_in(malformed))


def _expected_daily(settings: Settings) -> pl.DataFrame:
    """DAU and revenue per UTC day from the simulator's raw messages, computed in plain Python/polars."""
    raw = _valid_messages(settings).select("message_id", "payload")
    rows, seen = [], set()
    for message_id, payload in raw.iter_rows():
        if message_id in seen:
            continue
        seen.add(message_id)
        msg = orjson.loads(payload)
        rows.append(
            {
                "day": date.fromisoformat(msg["timestamp"][:10]),
                "type": msg["type"],
                "event": msg.get("event"),
                "user_id": msg.get("userId"),
                "revenue": float((msg.get("properties") or {}).get("revenue") or 0.0),
            }
        )
    events = pl.DataFrame(rows)
    is_activity = (
        pl.col("type").is_in(ACTIVITY_TYPES)
        & ~pl.col("event").fill_null("").is_in(NON_ACTIVITY_EVENTS)
        & pl.col("user_id").is_not_null()
    )
    return (
        events.group_by("day")
        .agg(
            dau=pl.col("user_id").filter(is_activity).n_unique(),
            gross=pl.col("revenue").filter(pl.col("event").is_in(GROSS_REVENUE_EVENTS)).sum(),
            refunds=pl.col("revenue").abs().filter(pl.col("event").is_in(REFUND_EVENTS)).sum(),
        )
        .with_columns(revenue=pl.col("gross") - pl.col("refunds"))
        .sort("day")
    )


def test_the_http_day_landed_exactly_and_malformed_events_were_quarantined(pipeline):
    settings, _ = pipeline
    valid = _valid_messages(settings)
    last_send_day = valid["send_day"].max()
    events = pl.from_arrow(
        DeltaTable(str(settings.table_path("bronze", "events"))).to_pyarrow_table(
            columns=["message_id", "collector_id"]
        )
    )
    over_http = set(events.filter(pl.col("collector_id") != "bulk")["message_id"])
    expected = set(valid.filter(pl.col("send_day") == last_send_day)["message_id"])
    assert over_http == expected

    quarantine = DeltaTable(str(settings.table_path("bronze", "quarantine"))).to_pyarrow_table()
    truth = orjson.loads((settings.sim_dir / "ground_truth.json").read_bytes())
    kept = [m for m in truth["malformed"] if not m.get("consent_dropped")]
    assert quarantine.num_rows == len(kept)
    assert all(quarantine.column("reason").to_pylist())


def test_mart_dau_and_revenue_match_an_independent_recomputation(pipeline):
    settings, _ = pipeline
    mart = read_mart(settings, "exec_daily_kpis").sort("kpi_date")
    expected = _expected_daily(settings)

    joined = mart.join(expected, left_on="kpi_date", right_on="day", how="full", coalesce=True)
    assert joined.height == DAYS
    assert joined["dau"].to_list() == joined["dau_right"].fill_null(0).to_list()
    for got, want in zip(joined["revenue"], joined["revenue_right"].fill_null(0.0), strict=True):
        assert got == pytest.approx(want, abs=0.005)
    assert mart["dau"].sum() > 0 and mart["revenue"].sum() > 0


def test_models_and_reports_were_produced(pipeline):
    settings, _ = pipeline
    for mart in ("fct_sessions", "dim_users", "fct_user_daily", "exec_daily_kpis"):
        assert mart_path(settings, mart).exists(), mart
    assert (settings.reports_dir / "drift_report.html").stat().st_size > 10_000


def _strings_in(path) -> list[bytes]:
    """The text a file holds, decoded: Parquet and DuckDB compress strings, so their raw bytes could
    hide an email from a plain grep."""
    import duckdb
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return [str(v).encode() for col in table.columns for v in col.to_pylist() if v is not None]
    if path.suffix == ".duckdb":
        with duckdb.connect(str(path), read_only=True) as con:
            texts = []
            for schema, table, column in con.sql(
                "select table_schema, table_name, column_name from information_schema.columns "
                "where data_type = 'VARCHAR'"
            ).fetchall():
                rows = con.sql(f'select "{column}" from "{schema}"."{table}"').fetchall()
                texts.extend(str(v).encode() for (v,) in rows if v is not None)
            return texts
    return [path.read_bytes()]


def test_no_raw_email_is_stored_anywhere(pipeline):
    """Traits carry emails on purpose; no file under the data dir may hold one in clear."""
    import re

    settings, _ = pipeline
    email = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
    checked = 0
    for folder in ("lake", "wal", "logs", "warehouse"):
        for path in (settings.data_dir / folder).rglob("*"):
            if path.is_file():
                checked += 1
                for text in _strings_in(path):
                    match = email.search(text)
                    assert not match, f"email in clear in {path}: {match.group()!r}"
    assert checked > 0
