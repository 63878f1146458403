"""Adoption, measured by Pulse itself (apps/streamlit/usage.py → collector → bronze → dbt → the
Adoption page).

- ``usage.track`` with no collector listening: no exception, no wait, a bounded queue.
- With a real collector process: the app (AppTest of app.py) and ``usage.track`` send events that
  land in ``bronze/events`` under the internal source, pseudonymous (no username anywhere); the
  accounts snapshot is read from a ``users`` table by reflection; the real dbt project builds the
  adoption marts; the Adoption page's figures equal a recomputation in polars from the bronze
  rows and the users table.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
import streamlit as st
from deltalake import DeltaTable
from live_collector import Collector, LiveCollector
from streamlit.testing.v1 import AppTest

from apps.streamlit import usage
from core import accounts
from core.metadata import engine_for
from core.settings import Settings, get_settings
from lake import gold
from lake.dashboard_accounts import land_dashboard_accounts
from lake.internal_source import DASHBOARDS_ANONYMOUS_ID, DASHBOARDS_SOURCE, dashboard_user_id

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "apps" / "streamlit" / "app.py")
PAGE = str(REPO / "apps" / "streamlit" / "views" / "adoption.py")
DBT_PROJECT = REPO / "dbt_project"
# (username, role); bob never opens the dashboards.
ACCOUNTS = (("ana", "analyst"), ("vic", "viewer"), ("ada", "admin"), ("bob", "viewer"))
# Page views sent with usage.track (vic's comes from running app.py).
VIEWS = {"ana": ["executive", "revenue", "revenue"], "ada": ["adoption"]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fresh() -> None:
    get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()


# ---- without a collector -----------------------------------------------------------------------
def test_track_with_the_collector_down_neither_raises_nor_blocks(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data", dashboard_usage_url=f"http://127.0.0.1:{_free_port()}"
    )
    started = time.monotonic()
    queued = [
        usage.track(
            "Dashboard Viewed", {"page": "executive"}, user=("ana", "analyst"), settings=settings
        )
        for _ in range(200)
    ]
    assert time.monotonic() - started < 0.5  # the page's cost: a queue put per event
    assert all(queued)
    dropped = usage.dropped()
    started = time.monotonic()
    usage.flush(timeout=15, settings=settings)
    assert time.monotonic() - started < 16
    assert usage.dropped() - dropped == 200  # nobody listens: given up on, not retried forever
    # A full queue drops instead of growing or blocking.
    burst = [
        usage.track(
            "Filter Changed", {"filters": ["range"]}, user=("ana", "analyst"), settings=settings
        )
        for _ in range(usage.QUEUE_SIZE * 3)
    ]
    assert not all(burst)
    # The internal source was registered with a key kept 0600 beside the data.
    key_file = settings.secrets_dir / "dashboards_write_key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_nothing_is_sent_when_usage_is_off_or_nobody_is_signed_in(tmp_path):
    off = Settings(data_dir=tmp_path / "data", dashboard_usage=False)
    assert (
        usage.track("Dashboard Viewed", {"page": "x"}, user=("ana", "analyst"), settings=off)
        is False
    )
    on = Settings(data_dir=tmp_path / "data")
    assert usage.track("Dashboard Viewed", {"page": "x"}, settings=on) is False  # no user
    assert not (tmp_path / "data" / "secrets").exists()


def test_the_user_id_is_a_keyed_hash_not_the_name(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    first = dashboard_user_id(settings, "ana")
    assert first == dashboard_user_id(settings, "ana") and first.startswith("dash_")
    assert "ana" not in first and first != dashboard_user_id(settings, "anna")
    other = Settings(data_dir=tmp_path / "other")  # another key: another id
    assert dashboard_user_id(other, "ana") != first


# ---- with a real collector, dbt and the page ---------------------------------------------------
@pytest.fixture(scope="module")
def adoption(tmp_path_factory) -> dict:
    """Usage events sent to a real collector (as the ``collector`` fixture starts it), the
    accounts landed from a users table, the adoption marts built by dbt and published."""
    root = tmp_path_factory.mktemp("adoption")
    data = root / "data"
    data.mkdir()
    live = LiveCollector(Collector(data, collector_id="adoption")).start()
    settings = Settings(data_dir=data, dashboard_usage_url=live.url)
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("PULSE_DATA_DIR", str(data))
        mp.setenv("PULSE_DASHBOARD_USAGE_URL", live.url)
        _fresh()
        # The app itself: one page view per page view (a rerun is not one).
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["pulse_user"] = {"name": "vic", "role": "viewer"}
        at.run()
        at.run()
        for name, role in ACCOUNTS:
            for page in VIEWS.get(name, []):
                assert usage.track("Dashboard Viewed", {"page": page}, user=(name, role))
        assert usage.track(
            "Filter Changed",
            {"page": "revenue", "filters": ["platform", "range"]},
            user=("ana", "analyst"),
        )
        assert usage.track(
            "Export Downloaded", {"kind": "csv", "page": "revenue"}, user=("ana", "analyst")
        )
        assert usage.track("Dashboard Saved", {"dashboard_id": "d-1"}, user=("ada", "admin"))
        assert usage.flush(timeout=20, settings=settings), "the events were not posted in 20 s"
    finally:
        mp.undo()
        _fresh()
    live.stop()  # SIGTERM: the collector flushes its WAL to Delta

    # The sign-in's users table (core.accounts), with accounts made a month ago.
    engine = engine_for(settings)
    created = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    for name, role in ACCOUNTS:
        accounts.add_user(engine, name, role, f"{name}-password-for-tests")
    with engine.begin() as conn:
        conn.execute(accounts.USERS.update().values(created_at=created))
    assert land_dashboard_accounts(settings) == len(ACCOUNTS)

    # The real dbt project, the adoption models only, then a publication of their marts.
    warehouse = settings.warehouse_path
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **settings.subprocess_env(),
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
    }
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [
            str(dbt),
            "build",
            "--select",
            "stg_dashboard_events+",
            "stg_dashboard_accounts+",
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    marts = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for mart in ("fct_dashboard_usage", "adp_weekly_adoption", "adp_page_usage"):
            path = root / f"{mart}.parquet"
            con.execute(f"copy main.{mart} to '{path}' (format parquet)")
            marts[mart] = path
    gold.publish(settings, marts, {"run_id": "adoption-test"})
    return {"settings": settings, "engine": engine}


def _bronze(settings: Settings) -> pl.DataFrame:
    table = DeltaTable(str(settings.table_path("bronze", "events"))).to_pyarrow_table()
    return pl.from_arrow(table)


def test_usage_events_land_in_bronze_pseudonymous_under_the_internal_source(adoption):
    settings = adoption["settings"]
    events = _bronze(settings)
    assert set(events["anonymous_id"]) == {DASHBOARDS_ANONYMOUS_ID}
    from core.metadata import engine_for
    from lake.sources import list_sources

    [source] = [s for s in list_sources(engine_for(settings)) if s.name == DASHBOARDS_SOURCE]
    assert set(events["source_id"]) == {source.source_id}
    views = events.filter(pl.col("event") == "Dashboard Viewed")
    # vic's page view from app.py: once for two runs of the same page (the default page).
    vic = views.filter(pl.col("user_id") == dashboard_user_id(settings, "vic"))
    assert [json.loads(p)["page"] for p in vic["properties"]] == ["executive"]
    assert set(events["event"]) == {
        "Dashboard Viewed",
        "Filter Changed",
        "Export Downloaded",
        "Dashboard Saved",
    }
    # No username anywhere in what was stored.
    text = " ".join(str(v) for row in events.rows() for v in row)
    for name, _ in ACCOUNTS:
        assert f'"{name}"' not in text and f"{name}@" not in text
    assert all(u.startswith("dash_") for u in events["user_id"])
    quarantine = settings.table_path("bronze", "quarantine")
    assert (
        not DeltaTable.is_deltatable(str(quarantine))
        or not DeltaTable(str(quarantine)).to_pyarrow_table().num_rows
    )


def _expected(settings: Settings, engine) -> dict:
    """The week's figures from bronze and the users table, by docs/metrics.md's definitions."""
    events = (
        _bronze(settings)
        .unique("message_id")
        .with_columns(week=pl.col("timestamp").dt.date().dt.truncate("1w"))
    )
    week = events["week"].max()
    with engine.connect() as conn:
        accounts = pl.DataFrame(
            conn.exec_driver_sql("select username, role from users").fetchall(),
            schema=["username", "role"],
            orient="row",
        )
    ids = {dashboard_user_id(settings, n): r for n, r in accounts.rows()}
    this_week = events.filter(pl.col("week") == week)
    active = set(this_week["user_id"]) & set(ids)
    views = this_week.filter(pl.col("event") == "Dashboard Viewed")
    pages = (
        views.with_columns(page=pl.col("properties").str.json_path_match("$.page"))
        .group_by("page")
        .agg(views=pl.len(), users=pl.col("user_id").n_unique())
    )
    return {
        "share": len(active) / len(ids),
        "active": len(active),
        "accounts": len(ids),
        "views": views.height,
        "pages": {r["page"]: (r["views"], r["users"]) for r in pages.rows(named=True)},
    }


def _page(settings: Settings) -> AppTest:
    mp = pytest.MonkeyPatch()
    mp.setenv("PULSE_DATA_DIR", str(settings.data_dir))
    mp.setenv("PULSE_DASHBOARD_USAGE", "off")  # reading the page sends nothing here
    _fresh()
    try:
        at = AppTest.from_file(PAGE, default_timeout=60)
        at.session_state["pulse_user"] = {"name": "ada", "role": "admin"}
        return at.run()
    finally:
        mp.undo()
        _fresh()


def test_the_adoption_page_equals_a_recomputation_from_bronze(adoption):
    settings = adoption["settings"]
    want = _expected(settings, adoption["engine"])
    assert (want["active"], want["accounts"]) == (3, 4)  # bob never came
    at = _page(settings)
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Stakeholders active"] == f"{want['share']:.1%}"
    assert metrics["Active accounts"] == f"{want['active']} of {want['accounts']}"
    assert metrics["Page views"] == f"{want['views']:,}"
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert any("On track" in b for b in badges), badges  # 75 % ≥ the 70 % target
    pages_table = at.dataframe[0].value
    got = {r["page"]: (r["views"], r["users"]) for _, r in pages_table.iterrows()}
    assert got == want["pages"]


def test_the_adoption_page_without_published_marts_says_what_to_do(tmp_path):
    at = _page(Settings(data_dir=tmp_path / "data"))
    assert not at.exception
    assert "pulse materialize" in at.info[0].value
