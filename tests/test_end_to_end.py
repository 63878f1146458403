"""The whole pipeline on a small simulated world, run as a user runs it (``pulse demo --no-serve``
in a subprocess), with real processes and no mocks:

simulator → history bulk-loaded + last day over HTTP to a real collector process → WAL → Delta
→ dbt (through Dagster) → published gold marts → checks, churn model, drift report.

The mart's DAU and revenue are compared with the same numbers computed independently, in polars,
from the simulator's raw events (deduplicated on messageId, malformed ones dropped).
"""

from __future__ import annotations

from datetime import date

import orjson
import polars as pl
import pytest
from deltalake import DeltaTable

from core.settings import Settings
from lake.gold import mart_path, read_mart

pytestmark = pytest.mark.integration


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


@pytest.fixture(scope="module")
def pipeline(demo_run, demo_settings):
    """The shared ``pulse demo --no-serve`` run (tests/conftest.py): (settings, its stdout)."""
    stdout = demo_run[1]
    assert not stdout or "phase timings:" in stdout
    return demo_settings, stdout


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
    assert joined.height == mart.height == expected.height  # every day of the world, both sides
    assert joined["dau"].to_list() == joined["dau_right"].fill_null(0).to_list()
    for got, want in zip(joined["revenue"], joined["revenue_right"].fill_null(0.0), strict=True):
        assert got == pytest.approx(want, abs=0.005)
    assert mart["dau"].sum() > 0 and mart["revenue"].sum() > 0


def test_models_and_reports_were_produced(pipeline):
    settings, _ = pipeline
    for mart in ("fct_sessions", "dim_users", "fct_user_daily", "exec_daily_kpis"):
        assert mart_path(settings, mart).exists(), mart
    assert (settings.reports_dir / "drift_report.html").stat().st_size > 10_000


def test_the_gx_data_docs_site_is_built_and_served(pipeline, free_port):
    """`pulse serve` serves the Data Docs the GX checks built: a real HTTP server on 127.0.0.1."""
    import httpx

    from pulse import services

    settings, _ = pipeline
    index = settings.data_docs_dir / "index.html"
    assert index.exists()
    served = settings.model_copy(update={"data_docs_port": free_port})
    service = services.start_data_docs(served)
    with services.running([service]):
        services.wait_healthy(service, timeout=30)
        page = httpx.get(service.url, timeout=10)
        assert page.status_code == 200
        assert "Data Docs" in page.text or "Great Expectations" in page.text
        suite = httpx.get(
            f"{service.url.rsplit('/', 1)[0]}/expectations/marts/dim_users_suite.html"
        )
        assert suite.status_code == 200 and "user_id" in suite.text


def _text_of(path) -> bytes:
    """The text a file holds, decoded and joined: Parquet and DuckDB compress strings, so their raw
    bytes could hide a value from a plain search. Other files (Delta logs, WAL, logs, SQLite) are
    searched as they are."""
    import duckdb
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return b"\n".join(
            str(v).encode() for col in table.columns for v in col.to_pylist() if v is not None
        )
    if path.suffix == ".duckdb":
        with duckdb.connect(str(path), read_only=True) as con:
            texts = []
            for schema, table, column in con.sql(
                "select table_schema, table_name, column_name from information_schema.columns "
                "where data_type = 'VARCHAR'"
            ).fetchall():
                rows = con.sql(f'select "{column}" from "{schema}"."{table}"').fetchall()
                texts.extend(str(v).encode() for (v,) in rows if v is not None)
            return b"\n".join(texts)
    return path.read_bytes()


_COMMENT_PII = {  # what the simulator writes into free-text comments (lake/simulator/engine/feedback.py)
    "card": rb"\b4\d{3} \d{4} \d{4} \d{4}\b",
    "ssn": rb"\b\d{3}-\d{2}-\d{4}\b",
    "ip": rb"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b",
    "iban": rb"\bDE\d{20}\b",
}


def _pii_in_the_world(settings: Settings) -> dict[bytes, str]:
    """Every PII value the simulator sent, in clear, with its kind: traits (email, phone, street),
    the device's full IP address, and the cards, SSNs, IPs, IBANs, emails and phones written into
    free-text comments."""
    import re

    raw = pl.read_parquet(settings.sim_dir / "events.parquet", columns=["payload"])
    needles: dict[bytes, str] = {}
    for (payload,) in raw.iter_rows():
        msg = orjson.loads(payload)
        for traits in (msg.get("traits"), (msg.get("context") or {}).get("traits")):
            if isinstance(traits, dict):
                for kind in ("email", "phone"):
                    if isinstance(traits.get(kind), str):
                        needles[traits[kind].encode()] = kind
                address = traits.get("address")
                if isinstance(address, dict) and address.get("street"):
                    needles[address["street"].encode()] = "street"
        ip = (msg.get("context") or {}).get("ip") if isinstance(msg.get("context"), dict) else None
        if isinstance(ip, str):
            needles[ip.encode()] = "ip"
        comment = (
            (msg.get("properties") or {}).get("comment")
            if isinstance(msg.get("properties"), dict)
            else None
        )
        if isinstance(comment, str):
            for kind, pattern in _COMMENT_PII.items():
                for found in re.findall(pattern, comment.encode()):
                    needles[found] = kind
                    if kind == "card":
                        needles[found.replace(b" ", b"")] = kind
    return needles


def test_no_pii_is_stored_anywhere(pipeline):
    """Traits, context and free text carry PII on purpose. No file under the data dir — every
    table, every retained Delta version and its transaction log, the WAL, logs, the warehouse,
    Dagster's storage — may hold any of it in clear: no email address (of anyone), and none of the
    simulator's phone numbers, card numbers, SSNs, IBANs, street addresses or full IP addresses.
    (``sim/`` is the simulated app's own export, the input, and is not scanned.)"""
    import re

    settings, _ = pipeline
    email = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
    needles = _pii_in_the_world(settings)
    kinds = set(needles.values())
    assert {"email", "phone", "street", "ip", "card", "ssn", "iban"} <= kinds, kinds
    # One pass per file over the shapes these values have; each match is then looked up among
    # the values (an alternation of thousands of values would take minutes over the whole lake).
    pattern = re.compile(
        rb"\+1-\d{3}-555-\d{4}|\b4\d{3} ?\d{4} ?\d{4} ?\d{4}\b|\b\d{3}-\d{2}-\d{4}\b"
        rb"|\bDE\d{20}\b|\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\b\d{1,3} [A-Z][a-z]+ Street"
    )
    assert all(pattern.fullmatch(n) or b"@" in n for n in needles), "a value of a new shape"
    checked = []
    for path in sorted(settings.data_dir.rglob("*")):
        if not path.is_file() or path.relative_to(settings.data_dir).parts[0] == "sim":
            continue
        folder = path.relative_to(settings.data_dir).parts[0]
        checked.append(folder)
        text = _text_of(path)
        # HTML reports embed third-party JavaScript, and the GX Data Docs site ships fonts and
        # scripts, whose licence headers carry their authors' emails: there, only the simulator's
        # own values are searched for.
        vendored = folder == "reports" or (folder == "quality" and "static" in path.parts)
        match = email.search(text) if not vendored else None
        assert not match, f"email in clear in {path}: {match.group()!r}"
        found = [m for m in pattern.findall(text) if m in needles]
        assert not found, f"{needles[found[0]]} in clear in {path}: {found[0]!r}"
        emails = [n for n, kind in needles.items() if kind == "email" and vendored]
        assert not [e for e in emails if e in text], f"email in clear in {path}"
    assert {"lake", "wal", "warehouse"} <= set(checked), set(checked)
    assert any("_delta_log" in str(p) for p in settings.data_dir.rglob("*.json"))
