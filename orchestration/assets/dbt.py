"""dbt models as Dagster assets: one ``@dbt_assets`` over the prepared manifest, run with ``dbt build``
so dbt's data tests arrive as asset checks.

Lineage: the dbt sources ``lake.events`` / ``lake.quarantine`` map onto the bronze observable assets
(``bronze/events``, ``bronze/quarantine``), so the graph reads bronze → staging → marts.
"""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.assets.bronze import BRONZE_PREFIX
from orchestration.dbt_project import require_manifest
from orchestration.resources import PulseResource, subprocess_environment

DBT_SOURCE_TO_LAKE_LAYER = {"lake": BRONZE_PREFIX}


def dbt_group(resource_props: Mapping[str, Any]) -> str:
    """Group by the model's folder: staging, intermediate, else marts."""
    fqn = resource_props.get("fqn") or []
    for folder in ("staging", "intermediate"):
        if folder in fqn[1:-1]:
            return folder
    return "marts"


class PulseDbtTranslator(DagsterDbtTranslator):
    """Sources of the ``lake`` schema become the bronze asset keys; models get folder groups."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            layer = DBT_SOURCE_TO_LAKE_LAYER.get(props["source_name"])
            if layer is not None:
                return spec.replace_attributes(key=dg.AssetKey([layer, props["name"]]))
            return spec
        return spec.replace_attributes(group_name=dbt_group(props))


def gold_row_count(gold_dir: Path, model: str) -> int | None:
    """Row count of a published mart from its Parquet footer (no data read), or None."""
    path = gold_dir / f"{model}.parquet"
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _with_row_count(event: Any, context: AssetExecutionContext, gold_dir: Path) -> Any:
    # dagster-dbt's fetch_row_counts() opens the warehouse while `dbt build` still holds its
    # one-writer lock; the published Parquet footer gives the same number lock-free.
    if isinstance(event, dg.Output):
        model = context.asset_key_for_output(event.output_name).path[-1]
        rows = gold_row_count(gold_dir, model)
        if rows is not None:
            return event.with_metadata(
                {
                    **event.metadata,
                    "dagster/row_count": rows,
                    "gold_path": dg.MetadataValue.path(str(gold_dir / f"{model}.parquet")),
                }
            )
    return event


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    """The dbt assets of ``project`` (its manifest must be prepared: see ``prepare_manifest``)."""

    @dbt_assets(
        manifest=require_manifest(),
        project=project,
        dagster_dbt_translator=PulseDbtTranslator(),
        name="pulse_dbt",
    )
    def pulse_dbt(
        context: AssetExecutionContext, dbt: DbtCliResource, pulse: PulseResource
    ) -> Iterator[Any]:
        settings = pulse.settings()
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        settings.gold_dir.mkdir(parents=True, exist_ok=True)
        with subprocess_environment(settings):  # the subprocess copies the env when it starts
            invocation = dbt.cli(["build"], context=context)
        for event in invocation.stream():
            yield _with_row_count(event, context, settings.gold_dir)

    return pulse_dbt
