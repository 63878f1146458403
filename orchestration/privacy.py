"""The ``privacy_erase`` job: ``pulse privacy erase`` as a Dagster run, with the same config.

Op-based (erasure is an action on every asset, not an asset of its own): one op erases and
verifies (``lake.privacy_ops.erasure``), the next re-derives the aggregates the removed rows fed
(the dbt models for the affected event dates and everything downstream, then a new gold
publication: ``orchestration.materialize.rederive``). The run carries the ``pulse/warehouse`` tag,
so it never overlaps a dbt run.

Re-deriving materializes the very definitions this job belongs to, so the job is built by
:func:`build_privacy_erase_job` with the re-derivation passed in by ``orchestration.definitions``
(the one entry point): this module imports nothing that imports the definitions.

The user id arrives as run config, which Dagster stores in its run storage: the erasure redacts
it from Dagster's SQLite stores (``files.redact_sqlite``) before the run ends. With PostgreSQL run
storage, prefer the CLI (see docs/privacy.md).
"""

import datetime as dt
from collections.abc import Callable

import dagster as dg

from core.settings import Settings
from orchestration.jobs import WAREHOUSE_TAGS
from orchestration.resources import PulseResource

Rederive = Callable[[Settings, tuple[dt.date, dt.date] | None], bool]
"""Rebuild what erased rows fed (the event-date window, or everything when ``None``); True on
success."""


class EraseConfig(dg.Config):
    user_id: str
    rederive: bool = True


@dg.op(
    description="Erase the user from every table, file and retained version; verify.",
    out=dg.Out(dict),
)
def erase_user_op(
    context: dg.OpExecutionContext, config: EraseConfig, pulse: PulseResource
) -> dict:
    from lake.privacy_ops.erasure import erase_user

    settings = pulse.settings()
    result = erase_user(
        settings, config.user_id, actor=f"dagster:{context.run_id}", progress=context.log.info
    )
    for target, rows in sorted(result.rows_removed.items()):
        context.log.info(f"removed {rows} row(s) from {target}")
    if result.findings:
        raise dg.Failure(
            description="verification found the user's identifiers after erasure",
            metadata={"findings": [f"{f.path}: {f.what}" for f in result.findings]},
        )
    if result.status == "not_found":
        context.log.warning("no data held about this user: nothing to erase (unknown user id?)")
    dates = result.affected_dates
    return {
        "request_id": result.request_id,
        "status": result.status,
        "rows_removed": result.rows_removed,
        "dates": [dates[0].isoformat(), dates[1].isoformat()] if dates else None,
        "removal_seconds": result.removal_seconds,
        "verify_seconds": result.verify_seconds,
        "rederive": config.rederive,
    }


def build_privacy_erase_job(rederive: Rederive) -> dg.JobDefinition:
    """The ``privacy_erase`` job; its second op calls ``rederive`` (see the module docstring)."""

    @dg.op(description="Rebuild the dbt models and republish gold so aggregates drop the user.")
    def rederive_op(context: dg.OpExecutionContext, pulse: PulseResource, erased: dict) -> None:
        if not erased["rederive"] or not erased["rows_removed"]:
            context.log.info("re-derivation skipped (rederive=false or nothing removed)")
            return
        dates = erased["dates"]
        window = (
            (dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[1])) if dates else None
        )
        if not rederive(pulse.settings(), window):
            raise dg.Failure(description="re-derivation failed: run `pulse materialize` again")

    @dg.job(
        name="privacy_erase",
        tags=WAREHOUSE_TAGS,
        description="Erase a user everywhere (config: user_id, rederive), verify, re-derive aggregates.",
    )
    def privacy_erase_job() -> None:
        rederive_op(erased=erase_user_op())

    return privacy_erase_job
