"""``gold_publication``: copy every dbt model tagged ``gold`` from the warehouse into a new
immutable Parquet publication and flip ``<lake>/gold/CURRENT`` (``lake.gold``), then prune old ones.

It depends on every gold model (so it runs once dbt has exited: the in-process executor runs steps
one at a time, and the ``duckdb_warehouse`` pool serializes the others) and on every asset with a
blocking check, so a failed dbt error-severity test or a failed blocking check skips publication:
readers keep the last good marts.
"""

import shutil
from collections.abc import Sequence

import dagster as dg
from dagster import AssetExecutionContext

from core.settings import Settings
from lake import gold
from orchestration.assets.bronze import BRONZE_KEYS
from orchestration.resources import PulseResource
from orchestration.warehouse import WAREHOUSE_POOL, Model, existing_relations, read_only

GOLD_PUBLICATION = dg.AssetKey("gold_publication")


def bronze_versions(context: AssetExecutionContext, settings: Settings) -> dict[str, int]:
    """Delta version of each bronze table as last observed in this instance (the run observes
    bronze before dbt reads it), else as it is now."""
    from deltalake import DeltaTable

    versions: dict[str, int] = {}
    for table, key in BRONZE_KEYS.items():
        observed = context.instance.fetch_observations(key, limit=1).records
        if observed:
            version = observed[0].asset_observation.metadata.get("delta_version")
            if version is not None:
                versions[table] = int(version.value)
                continue
        path = settings.table_path("bronze", table)
        if DeltaTable.is_deltatable(str(path)):
            versions[table] = DeltaTable(str(path)).version()
    return versions


def export_and_publish(
    settings: Settings, models: Sequence[Model], metadata: dict[str, object]
) -> tuple[gold.Publication, list[str]]:
    """COPY each model out of the warehouse (read-only) into a staging directory and publish it.
    Returns the publication and the models missing from the warehouse."""
    staging = gold.staging_dir(settings)
    missing: list[str] = []
    try:
        tables = {}
        with read_only(settings) as con:
            present = existing_relations(con)
            for model in models:
                if (model.schema, model.alias) not in present:
                    missing.append(model.name)
                    continue
                target = staging / f"{model.name}.parquet"
                quoted = str(target).replace("'", "''")
                con.execute(
                    f"COPY (select * from {model.relation}) TO '{quoted}' "
                    "(FORMAT parquet, COMPRESSION zstd)"
                )
                tables[model.name] = target
        if not tables:
            raise RuntimeError(
                f"no gold model exists in the warehouse {settings.warehouse_path}: build them first"
            )
        publication = gold.publish(settings, tables, {**metadata, "missing_models": missing})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return publication, missing


def build_gold_publication(
    models: Sequence[Model], deps: Sequence[dg.AssetKey]
) -> dg.AssetsDefinition:
    """The publication asset over ``models`` (the manifest's gold models), downstream of ``deps``."""

    @dg.asset(
        key=GOLD_PUBLICATION,
        group_name="publish",
        kinds={"parquet"},
        deps=sorted(set(deps), key=lambda k: k.to_user_string()),
        pool=WAREHOUSE_POOL,
        description=(
            "Publishes every dbt model tagged `gold` as an immutable zstd Parquet snapshot under "
            "<lake>/gold/publications/<id>/ and flips <lake>/gold/CURRENT; readers use lake.gold."
        ),
    )
    def gold_publication(
        context: AssetExecutionContext, pulse: PulseResource
    ) -> dg.MaterializeResult:
        settings = pulse.settings()
        publication, missing = export_and_publish(
            settings,
            models,
            {"run_id": context.run_id, "bronze_versions": bronze_versions(context, settings)},
        )
        if missing:
            context.log.warning(f"not in the warehouse, not published: {', '.join(missing)}")
        pruned = gold.prune(settings)
        table = "\n".join(
            ["| model | rows |", "|---|---|"]
            + [f"| {name} | {rows:,} |" for name, rows in sorted(publication.models.items())]
        )
        return dg.MaterializeResult(
            metadata={
                "publication_id": publication.id,
                "path": dg.MetadataValue.path(str(publication.path)),
                "models": len(publication.models),
                "dagster/row_count": sum(publication.models.values()),
                "preview": dg.MetadataValue.md(table),
                "bronze_versions": dg.MetadataValue.json(dict(publication.bronze_versions)),
                "missing_models": ", ".join(missing) or "none",
                "pruned": ", ".join(pruned) or "none",
            }
        )

    return gold_publication
