"""dbt models as Dagster assets, run with ``dbt build`` so dbt's data tests arrive as asset checks
(error-severity failures fail the step and skip everything downstream, publication included).

``@dbt_assets`` over the prepared manifest, of two kinds:

- ``pulse_dbt_daily*``: the daily-incremental models (tag ``daily``), partitioned by event date
  (``orchestration.partitions.daily_partitions``), one run for a whole range
  (``BackfillPolicy.single_run()``); the partition window reaches dbt as the environment variables
  ``PULSE_DBT_MIN_DATE``/``PULSE_DBT_MAX_DATE`` (``partition_window_env``: no re-parse per run).
- ``pulse_dbt*``: every other model, rebuilt whole.

Daily and other models interleave in the DAG, so each kind is cut into stages (``dbt_stages``):
one run executes the steps in dependency order.

Lineage: the dbt sources of the ``lake`` schema map onto the bronze asset keys (``bronze/events``,
...), so the graph reads ingest → staging → intermediate → marts by domain → publish.

Materializations of tables carry ``dagster/row_count`` and a Markdown preview, read from the
warehouse (read-only) once the dbt subprocess has exited: dagster-dbt's ``fetch_row_counts()`` would
open it while ``dbt build`` still holds DuckDB's one-writer lock.
"""

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from core.settings import Settings
from orchestration.assets.bronze import BRONZE_PREFIX
from orchestration.dbt_project import DBT_PROJECT_DIR, require_manifest, warm_partial_parse
from orchestration.partitions import daily_partitions, dbt_build_args, partition_window_env
from orchestration.resources import PulseResource, subprocess_environment
from orchestration.warehouse import (
    DAILY_TAG,
    WAREHOUSE_POOL,
    Model,
    WarehouseBusy,
    existing_relations,
    load_manifest,
    markdown_preview,
    models_from_manifest,
    read_only,
)

DBT_SOURCE_TO_LAKE_LAYER = {"lake": BRONZE_PREFIX}
DAILY_SELECT = f"tag:{DAILY_TAG}"


def dbt_group(resource_props: Mapping[str, Any]) -> str:
    """Group by the model's folder: staging, intermediate, semantic (the semantic layer's time
    spine: not a mart, no mart freshness policy), ``marts_<domain>`` (marts/<domain>/)."""
    fqn = list(resource_props.get("fqn") or [])
    folders = fqn[1:-1]
    for folder in ("staging", "intermediate", "semantic"):
        if folder in folders:
            return folder
    if "marts" in folders:
        rest = folders[folders.index("marts") + 1 :]
        return f"marts_{rest[0]}" if rest else "marts_core"
    return "marts_core"


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


def table_metadata(settings: Settings, models: list[Model]) -> dict[str, dict[str, Any]]:
    """Row count and preview of each model built as a table, by model name (views skipped: not
    cheap). Empty when the warehouse cannot be opened (then the materializations lack them)."""
    wanted = [m for m in models if m.materialized in ("table", "incremental")]
    if not wanted:
        return {}
    out: dict[str, dict[str, Any]] = {}
    try:
        with read_only(settings, timeout_seconds=10) as con:
            present = existing_relations(con)
            for model in wanted:
                if (model.schema, model.alias) not in present:
                    continue
                rows = con.execute(f"select count(*) from {model.relation}").fetchall()[0][0]
                out[model.name] = {
                    "dagster/row_count": int(rows),
                    "preview": dg.MetadataValue.md(markdown_preview(con, model.relation)),
                }
    except (WarehouseBusy, FileNotFoundError):
        return {}
    return out


def _model_of(
    event: Any, context: AssetExecutionContext, by_uid: Mapping[str, Model]
) -> Model | None:
    uid = event.metadata.get("unique_id") if event.metadata else None
    uid = getattr(uid, "value", uid)
    if uid in by_uid:
        return by_uid[uid]
    name = context.asset_key_for_output(event.output_name).path[-1]
    return next((m for m in by_uid.values() if m.name == name), None)


def selected_tests(context: AssetExecutionContext, manifest: Mapping[str, Any]) -> list[str]:
    """The dbt tests (by FQN) behind every asset check selected in this step.

    Dagster may split one ``@dbt_assets`` step into several at run time (its cycle resolution
    colours assets by how many steps any path to them crosses, so two models of one stage can land
    in different subsets). For a subset, dagster-dbt selects the models and leaves their tests to
    dbt's indirect selection — which ``dbt_build_args`` turns off (``empty``), so those tests
    would never run and their blocking checks would emit no result. Selecting every selected
    check's test explicitly (``--select`` values are a union) runs exactly the step's checks
    whatever the subsetting. Empty for a whole step: its ``select`` already lists its tests."""
    assets_def = context.assets_def
    is_subset = (
        assets_def.keys_by_output_name != assets_def.node_keys_by_output_name
        or assets_def.check_specs_by_output_name != assets_def.node_check_specs_by_output_name
    )
    if not is_subset:
        return []
    nodes = manifest.get("nodes", {})
    tests = set()
    for key in context.selected_asset_check_keys:
        metadata = assets_def.get_spec_for_check_key(key).metadata or {}
        node = nodes.get(metadata.get("dagster_dbt/unique_id"))
        if node is not None and node.get("fqn"):
            tests.add(".".join(node["fqn"]))
    return sorted(tests)


def run_dbt(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    settings: Settings,
    args: list[str],
    by_uid: Mapping[str, Model],
    window: dg.TimeWindow | None = None,
) -> Iterator[Any]:
    """``dbt <args>`` on the step's subset (of the partition ``window`` if any) and the tests of
    its selected checks (``selected_tests``); events re-emitted after dbt exits, with metadata."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    warm_partial_parse(settings)
    tests = selected_tests(context, load_manifest(require_manifest()))
    if tests:
        args = [*args, "--select", " ".join(tests)]
    # The subprocess copies the environment when it starts.
    with subprocess_environment(settings, partition_window_env(window)):
        invocation = dbt.cli(args, context=context)
    events: list[Any] = []
    failure: BaseException | None = None
    try:
        for event in invocation.stream():
            events.append(event)
    except Exception as exc:  # a failed model/test: still report what was built, then fail
        failure = exc
    finally:
        _remove_project_copy(Path(invocation.project_dir))
    outputs = [(e, _model_of(e, context, by_uid)) for e in events if isinstance(e, dg.Output)]
    extra = table_metadata(settings, [m for _, m in outputs if m is not None])
    for event in events:
        if isinstance(event, dg.Output):
            model = _model_of(event, context, by_uid)
            if model is not None and model.name in extra:
                event = event.with_metadata({**event.metadata, **extra[model.name]})
        yield event
    if failure is not None:
        raise failure


def _remove_project_copy(project_dir: Path) -> None:
    """dagster-dbt runs a selection of over 200 nodes in a copy of the dbt project under the
    temp dir (to write a selectors.yml) and leaves it there: one copy per step and run."""
    temp = Path(tempfile.gettempdir()).resolve()
    if project_dir.resolve() != DBT_PROJECT_DIR.resolve() and temp in project_dir.resolve().parents:
        shutil.rmtree(project_dir, ignore_errors=True)


def has_daily_models(manifest: Mapping[str, Any]) -> bool:
    return any(DAILY_TAG in m.tags for m in models_from_manifest(manifest).values())


def dbt_stages(manifest: Mapping[str, Any]) -> list[tuple[bool, list[str], list[str]]]:
    """Models grouped into steps that run in order: ``(daily, [model names], [test names])``.

    Daily (partitioned) and other models interleave (staging → daily int_user_day_activity →
    dim_users → daily ai_recommendation_daily → ...). One multi-asset per kind would depend on
    itself through the other; instead each model gets a stage = the most kind changes on any path
    from a root, and each (stage, kind) becomes one ``@dbt_assets``. Edges only go to the same
    step or a later stage, so the steps form a DAG.
    """
    models = models_from_manifest(manifest)
    nodes = manifest.get("nodes", {})
    by_uid = {m.unique_id: m for m in models.values()}
    stage: dict[str, int] = {}
    # A model's data tests run in its step; a test that also reads another model (relationships
    # to dim_users, ...) needs that model built first: treat it as a parent too.
    parents: dict[str, set[str]] = {
        uid: set(nodes[uid].get("depends_on", {}).get("nodes", [])) for uid in by_uid
    }
    for node in nodes.values():
        attached = node.get("attached_node")
        if node.get("resource_type") == "test" and attached in parents:
            parents[attached] |= set(node.get("depends_on", {}).get("nodes", [])) - {attached}

    def visit(uid: str, path: frozenset[str] = frozenset()) -> int:
        if uid in stage:
            return stage[uid]
        model = by_uid[uid]
        daily = DAILY_TAG in model.tags
        best = 0
        for parent in sorted(parents[uid]):
            if parent in by_uid and parent not in path:
                parent_daily = DAILY_TAG in by_uid[parent].tags
                best = max(best, visit(parent, path | {uid}) + (parent_daily != daily))
        stage[uid] = best
        return best

    groups: dict[tuple[int, bool], list[str]] = {}
    for uid in sorted(by_uid):
        daily = DAILY_TAG in by_uid[uid].tags
        groups.setdefault((visit(uid), daily), []).append(by_uid[uid].name)
    order = sorted(groups)
    step_of = {uid: order.index((stage[uid], DAILY_TAG in by_uid[uid].tags)) for uid in by_uid}
    # Each data test runs in the step of its latest model parent (dbt's default "eager"
    # indirect selection would run a test with the first step that built any of its parents).
    tests: dict[int, list[str]] = {}
    for node in nodes.values():
        if node.get("resource_type") != "test":
            continue
        steps = [step_of[p] for p in node.get("depends_on", {}).get("nodes", []) if p in step_of]
        if steps:
            tests.setdefault(max(steps), []).append(node["name"])
    return [
        (daily, sorted(groups[(st, daily)]), sorted(tests.get(i, [])))
        for i, (st, daily) in enumerate(order)
    ]


def build_dbt_assets(project: DbtProject) -> list[dg.AssetsDefinition]:
    """The dbt assets of ``project``: one ``@dbt_assets`` per step of ``dbt_stages``, the daily
    ones partitioned. The manifest must be prepared (see ``prepare_manifest``)."""
    manifest_path = require_manifest()
    manifest = load_manifest(manifest_path)
    by_uid = {m.unique_id: m for m in models_from_manifest(manifest).values()}
    translator = PulseDbtTranslator()
    assets = []
    seen: dict[bool, int] = {}
    for daily, models, tests in dbt_stages(manifest):
        index = seen[daily] = seen.get(daily, 0) + 1
        name = ("pulse_dbt_daily" if daily else "pulse_dbt") + (f"_{index}" if index > 1 else "")
        select = [*models, *tests]
        assets.append(_dbt_step(name, daily, select, manifest_path, project, translator, by_uid))
    return assets


def _dbt_step(
    name: str,
    daily: bool,
    models: list[str],
    manifest_path: Any,
    project: DbtProject,
    translator: DagsterDbtTranslator,
    by_uid: Mapping[str, Model],
) -> dg.AssetsDefinition:
    if not daily:

        @dbt_assets(
            manifest=manifest_path,
            project=project,
            dagster_dbt_translator=translator,
            select=" ".join(models),
            name=name,
            pool=WAREHOUSE_POOL,
        )
        def _unpartitioned(
            context: AssetExecutionContext, dbt: DbtCliResource, pulse: PulseResource
        ) -> Iterator[Any]:
            yield from run_dbt(context, dbt, pulse.settings(), dbt_build_args(), by_uid)

        return _unpartitioned

    @dbt_assets(
        manifest=manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        select=" ".join(models),
        name=name,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def _daily(
        context: AssetExecutionContext, dbt: DbtCliResource, pulse: PulseResource
    ) -> Iterator[Any]:
        window = context.partition_time_window
        context.log.info(
            f"dbt window {partition_window_env(window)} (partitions {context.partition_key_range})"
        )
        yield from run_dbt(context, dbt, pulse.settings(), dbt_build_args(), by_uid, window)

    return _daily
