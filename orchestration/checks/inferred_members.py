"""``inferred_members``: a warning, never a block, while a dimension carries late-arriving members.

``dim_programs`` and ``dim_trainers`` hold every program and trainer the events mention. One the
app's latest export (``bronze/app_programs``, ``bronze/app_trainers``) does not list yet (a
program sold minutes after it was created) is an *inferred member* (``is_inferred``, Kimball's
late-arriving dimension member): its facts stay in the marts, attributed to it, and publication
goes on. This check (one step, one spec per dimension, ``blocking=False``) then fails with WARN
severity and names the members, when the events first mentioned them, and the sales attributed to
them; the packaged alert rule ``late-arriving-dimension-members`` turns that into a warning alert.
The dimensions are rebuilt whole on every run, so the first run that loads an export listing them
(``pulse materialize``, the nightly full refresh: the runs that build ``stg_app_*``) takes the
export's rows, the check passes and the alert resolves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from orchestration.resources import PulseResource
from orchestration.warehouse import WAREHOUSE_POOL

CHECK_NAME = "inferred_members"
# The ids named in a check's description (all of them are in its metadata).
DESCRIBED_IDS = 20


@dataclass(frozen=True)
class InferredMember:
    id: str
    first_seen_at: dt.datetime | None  # first event that mentions it (None: only the exports do)
    purchases: int
    gross_revenue: float


@dataclass(frozen=True)
class Dimension:
    """A dimension that may carry inferred members, and where its evidence is."""

    model: str  # dim_programs
    key: str  # program_id
    noun: str  # program
    export: str  # the staging model of the app's export: stg_app_programs
    evidence: str  # the model with the events that mention the members
    # SQL over ``{dim}`` and ``{evidence}``: one row per inferred member,
    # (id, first_seen_at, purchases, gross_revenue)
    members_sql: str

    @property
    def needs(self) -> tuple[str, ...]:
        return (self.model, self.export, self.evidence)


DIMENSIONS = (
    Dimension(
        model="dim_programs",
        key="program_id",
        noun="program",
        export="stg_app_programs",
        evidence="int_program_references",
        members_sql="""
            select dim.program_id, refs.first_seen_at, coalesce(refs.purchases, 0),
                coalesce(refs.gross_revenue, 0)
            from {dim} as dim
            left join {evidence} as refs on refs.program_id = dim.program_id
            where dim.is_inferred
            order by refs.first_seen_at nulls last, dim.program_id
        """,
    ),
    Dimension(
        model="dim_trainers",
        key="trainer_id",
        noun="trainer",
        export="stg_app_trainers",
        evidence="stg_marketplace_events",
        members_sql="""
            select dim.trainer_id, min(events.event_at),
                count(events.trainer_id) filter (where events.marketplace_event_type = 'purchased'),
                coalesce(sum(events.amount)
                    filter (where events.marketplace_event_type = 'purchased'), 0)
            from {dim} as dim
            left join {evidence} as events on events.trainer_id = dim.trainer_id
            where dim.is_inferred
            group by dim.trainer_id
            order by min(events.event_at) nulls last, dim.trainer_id
        """,
    ),
)
RELATIONS = tuple(dict.fromkeys(name for d in DIMENSIONS for name in d.needs))


@dataclass(frozen=True)
class Finding:
    dimension: Dimension
    members: list[InferredMember]
    export_at: dt.datetime | None  # when the export the dimension was built from was taken
    missing: str | None = None  # a model that is not in the warehouse (nothing evaluated)

    @property
    def purchases(self) -> int:
        return sum(m.purchases for m in self.members)

    @property
    def gross_revenue(self) -> float:
        return sum(m.gross_revenue for m in self.members)

    def describe(self) -> str:
        d = self.dimension
        if self.missing:
            return f"{self.missing} is not in the warehouse: inferred {d.noun}s not evaluated"
        if not self.members:
            return f"every {d.noun} the events mention is in the app's export ({d.export})"
        n = len(self.members)
        named = [_describe_member(m) for m in self.members[:DESCRIBED_IDS]]
        if n > DESCRIBED_IDS:
            named.append(f"... and {n - DESCRIBED_IDS} more (metadata `ids`)")
        export = f"exported {_when(self.export_at)}" if self.export_at else "no export landed"
        return (
            f"{n} {d.noun}{'s' if n != 1 else ''} mentioned by events "
            f"{'are' if n != 1 else 'is'} not in the app's latest export ({d.export}, {export}): "
            f"{'; '.join(named)}. Kept as inferred members of {d.model} (is_inferred): "
            f"{self.purchases} purchase(s), {self.gross_revenue:,.2f} gross revenue attributed to "
            "them; the first full run after an export lists them takes their rows from it."
        )


def _when(at: dt.datetime | None) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "never"


def _describe_member(m: InferredMember) -> str:
    seen = f"first seen {_when(m.first_seen_at)}" if m.first_seen_at else "only in the exports"
    return f"{m.id} ({seen}, {m.purchases} purchase(s), {m.gross_revenue:,.2f})"


def find_inferred(con: Any, relations: Mapping[str, str | None]) -> list[Finding]:
    """Inferred members of each dimension, read over a DuckDB connection; ``relations`` maps model
    names to their relation (None: not built)."""
    findings = []
    for d in DIMENSIONS:
        missing = next((name for name in d.needs if relations.get(name) is None), None)
        if missing is not None:
            findings.append(Finding(d, [], None, missing=missing))
            continue
        sql = d.members_sql.format(dim=relations[d.model], evidence=relations[d.evidence])
        members = [
            InferredMember(str(key), first, int(purchases), float(revenue))
            for key, first, purchases, revenue in con.execute(sql).fetchall()
        ]
        [(export_at,)] = con.execute(
            f"select max(exported_at) from {relations[d.export]}"
        ).fetchall()
        findings.append(Finding(d, members, export_at))
    return findings


def check_result(finding: Finding) -> dg.AssetCheckResult:
    d = finding.dimension
    ids = [m.id for m in finding.members]
    table = "\n".join(
        [f"| {d.key} | first seen | purchases | gross revenue |", "|---|---|---:|---:|"]
        + [
            f"| {m.id} | {_when(m.first_seen_at)} | {m.purchases} | {m.gross_revenue:,.2f} |"
            for m in finding.members[:100]
        ]
    )
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(d.model),
        check_name=CHECK_NAME,
        passed=not ids and finding.missing is None,
        severity=dg.AssetCheckSeverity.WARN,
        description=finding.describe(),
        metadata={
            "inferred": len(ids),
            "ids": dg.MetadataValue.json(ids),
            "purchases": finding.purchases,
            "gross_revenue": round(finding.gross_revenue, 2),
            "export": d.export,
            "exported_at": _when(finding.export_at),
            "members": dg.MetadataValue.md(table),
        },
    )


@dg.multi_asset_check(
    name=CHECK_NAME,
    specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=dg.AssetKey(d.model),
            blocking=False,
            description=f"Warns (never blocks) while {d.model} holds {d.noun}s that the events "
            f"mention but the app's export ({d.export}) does not list yet, naming them.",
        )
        for d in DIMENSIONS
    ],
    can_subset=True,
    pool=WAREHOUSE_POOL,
    description="Late-arriving dimension members: programs and trainers kept as inferred members "
    "until the app's export lists them (warning).",
)
def inferred_members(context, pulse: PulseResource) -> Iterator[dg.AssetCheckResult]:
    from orchestration.dbt_project import require_manifest
    from orchestration.warehouse import (
        existing_relations,
        load_manifest,
        models_from_manifest,
        read_only,
    )

    selected = {k.asset_key.path[-1] for k in context.selected_asset_check_keys}
    models = models_from_manifest(load_manifest(require_manifest()))
    with read_only(pulse.settings()) as con:
        present = existing_relations(con)
        relations = {
            name: models[name].relation
            for name in RELATIONS
            if name in models and (models[name].schema, models[name].alias) in present
        }
        findings = find_inferred(con, relations)
    for finding in findings:
        if finding.dimension.model not in selected:
            continue
        if not finding.members and finding.missing is None:
            context.log.info(finding.describe())
        else:
            context.log.warning(finding.describe())
        yield check_result(finding)
