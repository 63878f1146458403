"""A late-arriving program and trainer, end to end, on a copy of the shared demo world.

A member buys a program (and so a trainer) that the app's latest export does not list yet, as
happens when a program is sold minutes after it was created. `pulse materialize` must still
publish every mart, with the sale in the marketplace marts under inferred members of dim_programs
and dim_trainers, a WARN `inferred_members` result and a warning alert naming the ids. Once the
app's export lists them, the next run attributes them from the export and the alert resolves.

Two windowed runs (the newest day, as `pulse materialize --start D --end D`) on the world that
`pulse demo` materialized once for the session.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.integration

PROGRAM, TRAINER, PRICE, COMMISSION = "pg_late_0001", "tr_late_01", 49.0, 0.2


def _purchase(user_id: str, at: dt.datetime) -> dict:
    """`Program Purchased` as the app's SDK sends it, for a program nobody exported yet."""
    return {
        "messageId": str(uuid.uuid4()),
        "type": "track",
        "event": "Program Purchased",
        "userId": user_id,
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "context": {"library": {"name": "analytics-ios", "version": "4.1.8"}},
        "properties": {
            "order_id": "ord_late_0001",
            "program_id": PROGRAM,
            "trainer_id": TRAINER,
            "price": PRICE,
            "revenue": PRICE,
            "currency": "USD",
            "commission_rate": COMMISSION,
            "trainer_payout": round(PRICE * (1 - COMMISSION), 2),
        },
    }


def _export_with_the_new_program(settings, tmp_path) -> None:
    """The app's next export: the simulator's tables plus the program and its trainer."""
    from lake.snapshots import load_snapshots

    export = tmp_path / "export"
    export.mkdir()
    for name in ("users", "plans"):
        shutil.copy(settings.sim_dir / f"{name}.parquet", export)
    additions = {
        "programs": {
            "program_id": PROGRAM,
            "trainer_id": TRAINER,
            "title": "Late Launch",
            "category": "strength",
            "price": PRICE,
            "level": "advanced",
        },
        "trainers": {
            "trainer_id": TRAINER,
            "name": "coach_late",
            "commission_rate": COMMISSION,
            "specialty": "strength",
        },
    }
    for name, row in additions.items():
        rows = [*pq.read_table(settings.sim_dir / f"{name}.parquet").to_pylist(), row]
        pq.write_table(pa.Table.from_pylist(rows), export / f"{name}.parquet")
    load_snapshots(export, settings)


def _latest_evaluation(instance, asset: str, check: str):
    import dagster as dg

    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    [record] = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    return record.evaluation


def _row(frame, column: str, value: str) -> dict:
    [row] = frame.filter(frame[column] == value).to_dicts()
    return row


def test_an_unseen_program_publishes_warns_and_is_repaired_by_the_next_run(loaded_world, tmp_path):
    import dagster as dg

    from core.metadata import engine_for
    from lake import gold
    from lake.ingest import bulk_load
    from orchestration.alerting.store import list_views
    from orchestration.definitions import build_defs
    from orchestration.materialize import instance_for, materialize_all

    settings = loaded_world
    before = gold.current(settings)
    kpis_before = gold.read_mart(settings, "exec_daily_kpis")
    day = kpis_before["kpi_date"].max()
    active = gold.read_mart(settings, "fct_user_daily")
    buyer = active.filter(active["activity_date"] == day)["user_id"].sort()[0]  # consents
    assert PROGRAM not in gold.read_mart(settings, "dim_programs")["program_id"].to_list()

    at = dt.datetime.combine(day, dt.time(12, 0), dt.UTC)
    report = bulk_load([_purchase(buyer, at)], settings, "src_late", received_at=at)
    assert report.accepted == 1

    # 1. The export lags the events: everything is published, the sale is kept, a warning names it.
    assert materialize_all(settings, start=day, end=day, definitions=build_defs) is True
    first = gold.current(settings)
    assert first.id != before.id and set(first.models) == set(before.models)

    programs = gold.read_mart(settings, "dim_programs")
    inferred = _row(programs, "program_id", PROGRAM)
    assert inferred["is_inferred"] is True and inferred["trainer_id"] == TRAINER
    assert inferred["program_title"] is None and inferred["commission_rate"] == COMMISSION
    assert programs["is_inferred"].sum() == 1
    trainer = _row(gold.read_mart(settings, "dim_trainers"), "trainer_id", TRAINER)
    assert trainer["is_inferred"] is True and trainer["programs"] == 1
    sales = _row(gold.read_mart(settings, "mkt_program_performance"), "program_id", PROGRAM)
    assert (sales["purchases"], sales["gross_revenue"], sales["trainer_id"]) == (1, PRICE, TRAINER)
    trainer_revenue = gold.read_mart(settings, "mkt_trainer_revenue")
    month = _row(trainer_revenue, "trainer_id", TRAINER)
    assert month["gross_revenue"] == PRICE
    assert month["trainer_payout"] == pytest.approx(PRICE * (1 - COMMISSION))
    kpis = gold.read_mart(settings, "exec_daily_kpis")
    on_day = kpis.filter(kpis["kpi_date"] == day)["program_revenue"][0]
    assert on_day == pytest.approx(
        kpis_before.filter(kpis_before["kpi_date"] == day)["program_revenue"][0] + PRICE
    )

    with instance_for(settings) as instance:
        for asset, member in (("dim_programs", PROGRAM), ("dim_trainers", TRAINER)):
            evaluation = _latest_evaluation(instance, asset, "inferred_members")
            assert not evaluation.passed
            assert evaluation.severity == dg.AssetCheckSeverity.WARN
            assert evaluation.metadata["ids"].value == [member]
            assert member in evaluation.description
        for asset, check in (
            ("mkt_program_performance", "gx_mkt_program_performance"),
            ("mkt_trainer_revenue", "gx_mkt_trainer_revenue"),
        ):
            assert _latest_evaluation(instance, asset, check).passed

    views = list_views(engine_for(settings))
    late = {v.target: v for v in views if v.rule == "late-arriving-dimension-members"}
    assert set(late) == {"dim_programs:inferred_members", "dim_trainers:inferred_members"}
    alert = late["dim_programs:inferred_members"].alert
    assert (alert.severity, alert.status) == ("warning", "open")
    assert PROGRAM in alert.message and "49.00" in alert.message
    assert TRAINER in late["dim_trainers:inferred_members"].alert.message
    assert not [v for v in views if v.alert.status == "open" and v.alert.severity != "warning"]

    # 2. The export catches up: the next run attributes the sale from it; the alerts resolve.
    _export_with_the_new_program(settings, tmp_path)
    assert materialize_all(settings, start=day, end=day, definitions=build_defs) is True
    assert gold.current(settings).id != first.id

    programs = gold.read_mart(settings, "dim_programs")
    exported = _row(programs, "program_id", PROGRAM)
    assert exported["is_inferred"] is False and exported["program_title"] == "Late Launch"
    assert exported["program_level"] == "advanced" and exported["trainer_handle"] == "coach_late"
    assert programs["is_inferred"].sum() == 0
    assert gold.read_mart(settings, "dim_trainers")["is_inferred"].sum() == 0
    sales = _row(gold.read_mart(settings, "mkt_program_performance"), "program_id", PROGRAM)
    assert (sales["purchases"], sales["gross_revenue"]) == (1, PRICE)

    with instance_for(settings) as instance:
        for asset in ("dim_programs", "dim_trainers"):
            assert _latest_evaluation(instance, asset, "inferred_members").passed
    late = [
        v for v in list_views(engine_for(settings)) if v.rule == "late-arriving-dimension-members"
    ]
    assert len(late) == 2 and all(v.alert.status == "resolved" for v in late)
