"""Build the real dbt project on a tiny hand-made bronze lake and check the published gold marts.

One session-scoped `dbt build` (seeds, models, data tests, unit tests) runs in a subprocess against a
temporary lake (events + the app's reference snapshots) and warehouse; every test then reads the
models from the warehouse file, opened read-only after dbt has exited (publishing marts for readers
is the orchestration's job, tested there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lake.dashboard_accounts import SCHEMA as DASHBOARD_ACCOUNTS_SCHEMA
from lake.internal_source import DASHBOARDS_ANONYMOUS_ID
from lake.tables import CONSENT_SCHEMA, EVENTS_PARTITION_BY, EVENTS_SCHEMA
from lake.writer import create_table

SNAPSHOT_EXPORTED_AT = datetime(2024, 3, 8, tzinfo=UTC)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO / "dbt_project"
MARTS = ("stg_events", "fct_sessions", "dim_users", "fct_user_daily", "exec_daily_kpis")

D1, D2, D3, D4 = (date(2024, 3, 4) + timedelta(days=i) for i in range(4))


def _at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=UTC)


_sequence = iter(range(1, 10_000))


def _event(
    message_id: str,
    at: datetime,
    *,
    type: str = "track",
    event: str | None = None,
    name: str | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    properties: dict | None = None,
    traits: dict | None = None,
    device: str | None = "ios",
    received_delay: timedelta = timedelta(seconds=1),
) -> dict:
    context = {"library": {"name": "analytics-ios"}}
    if device:
        context["device"] = {"type": device}
    return {
        "message_id": message_id,
        "type": type,
        "event": event,
        "name": name,
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "group_id": None,
        "previous_id": None,
        "timestamp": at,
        "original_timestamp": at,
        "sent_at": at,
        "received_at": at + received_delay,
        "context": json.dumps(context),
        "properties": json.dumps(properties or {}),
        "traits": json.dumps(traits) if traits is not None else None,
        "integrations": "{}",
        "source_id": "src_test",
        "collector_id": "test",
        "sequence": next(_sequence),
        "event_date": at.date(),
    }


def _first_batch() -> list[dict]:
    return [
        # u1, D1: session 1 (08:00-08:20), then a 31-minute gap, session 2 (08:51-08:52).
        _event("u1-open-1", _at(D1, 8, 0), event="App Opened", user_id="u1", anonymous_id="a1"),
        _event(
            "u1-home", _at(D1, 8, 10), type="screen", name="Home", user_id="u1", anonymous_id="a1"
        ),
        _event(
            "u1-workout",
            _at(D1, 8, 20),
            event="Workout Completed",
            user_id="u1",
            anonymous_id="a1",
            properties={"workout_id": "w1", "duration_min": 20},
        ),
        _event(
            "u1-identify",
            _at(D1, 8, 30),
            type="identify",
            user_id="u1",
            anonymous_id="a1",
            traits={
                "email": "hmac:5f2b...",
                "plan": "premium_monthly",
                "acquisition_channel": "instagram",
            },
        ),
        _event("u1-open-2", _at(D1, 8, 51), event="App Opened", user_id="u1", anonymous_id="a1"),
        _event(
            "u1-sub",
            _at(D1, 8, 52),
            event="Subscription Started",
            user_id="u1",
            anonymous_id="a1",
            properties={"plan_id": "premium_monthly", "revenue": 9.99, "currency": "USD"},
        ),
        # u2, D1: anonymous open, then sign-up and a program purchase.
        _event("a2-open", _at(D1, 9, 0), event="App Opened", anonymous_id="a2", device="android"),
        _event(
            "u2-signup",
            _at(D1, 9, 1),
            event="Signed Up",
            user_id="u2",
            anonymous_id="a2",
            device="android",
            properties={"channel": "organic"},
        ),
        _event(
            "u2-buy",
            _at(D1, 9, 5),
            event="Program Purchased",
            user_id="u2",
            anonymous_id="a2",
            device="android",
            properties={"program_id": "p1", "trainer_id": "t1", "order_id": "o1", "revenue": 29.99},
        ),
        # u3, D1: server-side only (renewal revenue counts, activity does not).
        _event(
            "u3-renew",
            _at(D1, 3, 0),
            event="Subscription Renewed",
            user_id="u3",
            device=None,
            properties={"plan_id": "premium_monthly", "revenue": 9.99},
        ),
        _event(
            "u3-api",
            _at(D1, 3, 0, 1),
            event="API Request",
            user_id="u3",
            device=None,
            properties={"endpoint": "/v1/feed", "status": 200, "latency_ms": 41},
        ),
        # The recommender's own system event.
        _event(
            "sys-deploy",
            _at(D1, 1, 0),
            event="Model Deployed",
            anonymous_id="system:recommender",
            device=None,
            properties={"model_version": "v7"},
        ),
        # u1, D2: one session of recommendations.
        _event(
            "u1-rec-shown",
            _at(D2, 12, 0),
            event="Recommendation Shown",
            user_id="u1",
            anonymous_id="a1",
            properties={"recommendation_id": "r1", "model_version": "v7", "workout_id": "w1"},
        ),
        _event(
            "u1-rec-ok",
            _at(D2, 12, 1),
            event="Recommendation Accepted",
            user_id="u1",
            anonymous_id="a1",
            properties={"recommendation_id": "r1", "model_version": "v7", "workout_id": "w1"},
        ),
        # D3: nothing at all.
    ]


def _second_batch() -> list[dict]:
    return [
        # An exact resend of u1's workout, landed in a later commit.
        _event(
            "u1-workout",
            _at(D1, 8, 20),
            event="Workout Completed",
            user_id="u1",
            anonymous_id="a1",
            properties={"workout_id": "w1", "duration_min": 20},
            received_delay=timedelta(hours=2),
        ),
        # D4: u2 comes back and gets the program refunded; u3's payment fails (server-side).
        _event(
            "u2-open-d4",
            _at(D4, 10, 0),
            event="App Opened",
            user_id="u2",
            anonymous_id="a2",
            device="android",
        ),
        _event(
            "u2-refund",
            _at(D4, 10, 2),
            event="Program Refunded",
            user_id="u2",
            anonymous_id="a2",
            device="android",
            properties={"program_id": "p1", "trainer_id": "t1", "order_id": "o1", "revenue": 29.99},
        ),
        _event("u3-fail", _at(D4, 4, 0), event="Payment Failed", user_id="u3", device=None),
        # The dashboards' own usage (internal source): never member activity, and a later day of
        # it must not stretch the member marts' date spines.
        *_dashboard_events(),
    ]


def _dashboard_event(message_id: str, at: datetime, event: str, account: str, **props) -> dict:
    row = _event(
        message_id,
        at,
        event=event,
        user_id=account,
        anonymous_id=DASHBOARDS_ANONYMOUS_ID,
        device=None,
        properties={"role": "analyst" if account == "dash_a" else "viewer", **props},
    )
    return {**row, "source_id": "src_dashboards"}


def _dashboard_events() -> list[dict]:
    return [
        _dashboard_event("dash-1", _at(D1, 9, 0), "Dashboard Viewed", "dash_a", page="executive"),
        _dashboard_event(
            "dash-2", _at(D4, 9, 0), "Filter Changed", "dash_b", page="revenue", filters=["range"]
        ),
        {  # a client retry of dash-2
            **_dashboard_event(
                "dash-2",
                _at(D4, 9, 0),
                "Filter Changed",
                "dash_b",
                page="revenue",
                filters=["range"],
            ),
            "received_at": _at(D4, 9, 5),
        },
        _dashboard_event("dash-3", _at(D4, 9, 1), "Dashboard Viewed", "dash_b", page="revenue"),
        _dashboard_event(
            "dash-4",
            _at(D4 + timedelta(days=7), 9, 0),
            "Dashboard Viewed",
            "dash_a",
            page="executive",
        ),
    ]


def _dbt(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [str(dbt), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="session")
def built_lake(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("dbt_lake")
    lake_dir, target_dir = root / "lake", root / "target"
    (root / "warehouse").mkdir()
    events_path = lake_dir / "bronze" / "events"
    for batch in (_first_batch(), _second_batch()):
        write_deltalake(
            str(events_path),
            pa.Table.from_pylist(batch, schema=EVENTS_SCHEMA),
            partition_by=EVENTS_PARTITION_BY,
            mode="append",
        )
    _write_snapshots(lake_dir)
    # The consent ledger, as the collector and the bulk loader create it (empty: nobody changed
    # consent in this lake, so everyone has the default).
    create_table(lake_dir / "bronze" / "consent", CONSENT_SCHEMA, [])
    env = {
        **os.environ,
        "PULSE_LAKE_DIR": str(lake_dir),
        "PULSE_WAREHOUSE_PATH": str(root / "warehouse" / "pulse.duckdb"),
        "DBT_TARGET_PATH": str(target_dir),
        "DBT_LOG_PATH": str(root / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    started = time.monotonic()
    proc = _dbt("build", env=env)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, f"dbt build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    run_results = json.loads((target_dir / "run_results.json").read_text())
    return {
        "warehouse": root / "warehouse" / "pulse.duckdb",
        "run_results": run_results,
        "seconds": seconds,
    }


def _write_snapshots(lake_dir: Path) -> None:
    """The app's reference exports, as lake.snapshots lands them (bronze/app_<name>)."""
    stamp = {"_exported_at": SNAPSHOT_EXPORTED_AT}
    rows = {
        "users": [
            {
                "user_id": user_id,
                "anonymous_id": anonymous_id,
                "signup_at": _at(D1, 9, 1)
                if user_id == "u2"
                else _at(D1, 0, 0) - timedelta(days=90),
                "acquisition_channel": "organic",
                "platform": "ios",
                "country": "US",
                "locale": "en-US",
                "age_band": "25-34",
                "fitness_goal": "build_strength",
                "plan": "premium_monthly" if user_id != "u2" else "free",
                "status": "active",
                **stamp,
            }
            for user_id, anonymous_id in (("u1", "a1"), ("u2", "a2"), ("u3", None))
        ],
        "programs": [
            {
                "program_id": "p1",
                "trainer_id": "t1",
                "title": "Core",
                "category": "pilates",
                "price": 29.99,
                "level": "beginner",
                **stamp,
            }
        ],
        "trainers": [
            {
                "trainer_id": "t1",
                "name": "coach_t1",
                "commission_rate": 0.3,
                "specialty": "pilates",
                **stamp,
            }
        ],
        "plans": [
            {
                "plan_id": plan_id,
                "name": plan_id,
                "monthly_price": price,
                "billing_period": period,
                **stamp,
            }
            for plan_id, price, period in (
                ("free", 0.0, "none"),
                ("premium_monthly", 9.99, "monthly"),
            )
        ],
    }
    for name, table_rows in rows.items():
        write_deltalake(
            str(lake_dir / "bronze" / f"app_{name}"),
            pa.Table.from_pylist(table_rows),
            mode="overwrite",
        )
    # The dashboards' accounts (lake/dashboard_accounts.py): dash_c never uses them.
    accounts = [
        {
            "account_id": a,
            "role": r,
            "created_at": _at(D1, 0, 0) - timedelta(days=30),
            "origin": "users",
            **stamp,
        }
        for a, r in (("dash_a", "analyst"), ("dash_b", "viewer"), ("dash_c", "viewer"))
    ]
    write_deltalake(
        str(lake_dir / "bronze" / "dashboard_accounts"),
        pa.Table.from_pylist(accounts, schema=DASHBOARD_ACCOUNTS_SCHEMA),
        mode="overwrite",
    )


def _gold(built_lake: dict, model: str) -> pl.DataFrame:
    with duckdb.connect(str(built_lake["warehouse"]), read_only=True) as con:
        return con.sql(f"select * from main.{model}").pl()


def test_build_runs_unit_tests_and_data_tests_and_all_pass(built_lake: dict) -> None:
    results = built_lake["run_results"]["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    assert all(s in {"success", "pass"} for s in statuses.values()), statuses
    unit = [u for u in statuses if u.startswith("unit_test.")]
    assert {u.rsplit(".", 1)[-1] for u in unit} >= {
        "test_int_sessions_splits_on_inactivity_gap_and_ignores_non_activity",
        "test_exec_daily_kpis_dau_revenue_and_date_spine",
        "test_stg_events_keeps_first_received_copy_and_names_events",
        "test_dim_programs_infers_late_arriving_programs_from_events",
        "test_dim_trainers_infers_late_arriving_trainers",
    }
    data_tests = [u for u in statuses if u.startswith("test.")]
    assert len(data_tests) >= 30
    assert any("relationships_fct_sessions_user_id" in t for t in data_tests)
    assert any("unique_dim_programs_program_id" in t for t in data_tests)
    assert any("accepted_values_stg_events_event_type" in t for t in data_tests)
    for model in MARTS:
        assert statuses[f"model.pulse.{model}"] == "success"


def test_exec_daily_kpis_counts_dau_new_users_and_revenue(built_lake: dict) -> None:
    kpis = _gold(built_lake, "exec_daily_kpis").sort("kpi_date")
    assert kpis["kpi_date"].to_list() == [D1, D2, D3, D4]  # D3 has no events but is in the spine
    assert kpis["dau"].to_list() == [2, 1, 0, 1]  # u3 (server-side only) and the system never count
    assert kpis["new_users"].to_list() == [1, 0, 0, 0]
    assert kpis["workouts_completed"].to_list() == [1, 0, 0, 0]  # the resent workout counts once
    assert kpis["gross_revenue"].to_list() == pytest.approx([49.97, 0, 0, 0])
    assert kpis["refunds"].to_list() == pytest.approx([0, 0, 0, 29.99])
    assert kpis["revenue"].to_list() == pytest.approx([49.97, 0, 0, -29.99])
    assert kpis["subscription_revenue"].to_list() == pytest.approx([19.98, 0, 0, 0])
    assert kpis["program_revenue"].to_list() == pytest.approx([29.99, 0, 0, 0])


def test_fct_sessions_splits_on_a_31_minute_gap(built_lake: dict) -> None:
    sessions = _gold(built_lake, "fct_sessions")
    assert sessions.height == 6
    assert sessions["session_id"].n_unique() == 6
    u1 = sessions.filter(pl.col("user_key") == "u1").sort("session_start")
    # The resent workout is dropped and the identify call is not activity.
    assert u1["event_count"].to_list() == [3, 2, 2]
    assert u1["duration_seconds"].to_list() == [1200, 60, 60]
    assert u1["session_date"].to_list() == [D1, D1, D2]
    assert u1["platform"].to_list() == ["ios", "ios", "ios"]
    assert sessions.filter(pl.col("user_key") == "a2")["user_id"].to_list() == [None]
    assert sessions.filter(pl.col("user_key").is_in(["u3", "system:recommender"])).is_empty()
    start_type = sessions.schema["session_start"]
    assert isinstance(start_type, pl.Datetime) and start_type.time_zone in ("UTC", "Etc/UTC")


def test_dim_users_profiles_without_pii(built_lake: dict) -> None:
    users = _gold(built_lake, "dim_users").sort("user_id")
    assert users["user_id"].to_list() == ["u1", "u2", "u3"]
    assert not any("email" in c or "name" in c for c in users.columns)
    u1, u2, u3 = users.rows(named=True)
    assert (u1["plan"], u1["acquisition_channel"], u1["platform"]) == (
        "premium_monthly",
        "instagram",
        "ios",
    )
    assert u1["is_subscriber"] is True and u1["total_revenue"] == pytest.approx(9.99)
    assert u1["signed_up_at"] is None
    assert u2["signup_date"] == D1 and u2["acquisition_channel"] == "organic"
    assert u2["total_revenue"] == pytest.approx(0.0)  # purchase refunded
    assert u2["last_seen_at"] == _at(D4, 10, 2)
    assert u3["first_seen_at"] is None and u3["is_subscriber"] is True


def test_fct_user_daily_features(built_lake: dict) -> None:
    daily = _gold(built_lake, "fct_user_daily").sort("user_id", "activity_date")
    keyed = {(r["user_id"], r["activity_date"]): r for r in daily.rows(named=True)}
    assert set(keyed) == {("u1", D1), ("u1", D2), ("u2", D1), ("u2", D4), ("u3", D1)}
    u1d1 = keyed[("u1", D1)]
    assert (
        u1d1["events"],
        u1d1["sessions"],
        u1d1["workouts_completed"],
        u1d1["screens_viewed"],
    ) == (5, 2, 1, 1)
    assert u1d1["revenue"] == pytest.approx(9.99)
    u1d2 = keyed[("u1", D2)]
    assert (u1d2["recommendations_shown"], u1d2["recommendations_accepted"], u1d2["sessions"]) == (
        1,
        1,
        1,
    )
    assert keyed[("u3", D1)]["events"] == 0 and keyed[("u3", D1)]["revenue"] == pytest.approx(9.99)
    assert keyed[("u2", D4)]["revenue"] == pytest.approx(-29.99)


def test_dashboard_usage_is_not_member_activity(built_lake: dict) -> None:
    """Dashboard users are not members: no member mart sees their events (DAU, users, sessions
    and date spines are those of the app's events alone, see the tests above)."""
    events = _gold(built_lake, "stg_events")
    assert events.filter(pl.col("anonymous_id") == DASHBOARDS_ANONYMOUS_ID).is_empty()
    assert not events.filter(pl.col("user_id").str.starts_with("dash_")).height
    for mart, column in (("dim_users", "user_id"), ("fct_user_daily", "user_id")):
        assert not _gold(built_lake, mart).filter(pl.col(column).str.starts_with("dash_")).height
    kpis = _gold(built_lake, "exec_daily_kpis")
    assert kpis["kpi_date"].max() == D4  # dash-4, a week later, does not stretch the spine
    health = _gold(built_lake, "sys_pipeline_health")
    assert health["health_date"].max() == D4


def test_dashboard_usage_marts(built_lake: dict) -> None:
    usage = _gold(built_lake, "fct_dashboard_usage")
    assert sorted(usage["message_id"]) == ["dash-1", "dash-2", "dash-3", "dash-4"]  # retry once
    weekly = _gold(built_lake, "adp_weekly_adoption").filter(pl.col("role") == "all")
    rows = {r["week_start"]: r for r in weekly.rows(named=True)}
    week1, week2 = D1, D1 + timedelta(days=7)
    assert (rows[week1]["active_accounts"], rows[week1]["accounts"]) == (2, 3)
    assert rows[week1]["share_active"] == pytest.approx(2 / 3)
    assert rows[week1]["is_complete_week"] is True
    assert (rows[week2]["active_accounts"], rows[week2]["share_active"]) == (
        1,
        pytest.approx(1 / 3),
    )
    assert rows[week2]["is_complete_week"] is False  # the data ends on its Friday
    pages = _gold(built_lake, "adp_page_usage")
    revenue = pages.filter(pl.col("page") == "revenue").row(0, named=True)
    assert (revenue["views"], revenue["users"], revenue["filter_changes"]) == (1, 1, 1)
