"""Resources: where Pulse's state lives and how dbt is invoked.

Asset code is the same everywhere; only these resources change. With no explicit values, the
:class:`PulseResource` reads the ``PULSE_`` environment when a run *starts* (``get_settings()``), not
when definitions are imported, so `dagster dev` and `pulse materialize` see the same settings.
Tests and ``materialize_all`` pass explicit values instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

import dagster as dg
from dagster_dbt import DbtCliResource

from core.settings import Settings, get_settings
from orchestration.dbt_project import DBT_PROJECT_DIR, dbt_target_dir


class PulseResource(dg.ConfigurableResource):
    """Pulse's settings inside Dagster. Unset fields fall back to the ``PULSE_`` environment."""

    data_dir: str | None = None
    metadata_url: str | None = None

    def settings(self) -> Settings:
        base = get_settings()
        overrides = {
            k: v
            for k, v in {"data_dir": self.data_dir, "metadata_url": self.metadata_url}.items()
            if v is not None
        }
        return Settings(**{**base.model_dump(), **overrides}) if overrides else base

    @classmethod
    def from_settings(cls, settings: Settings) -> PulseResource:
        return cls(data_dir=str(settings.data_dir), metadata_url=settings.metadata_url)


@contextlib.contextmanager
def subprocess_environment(
    settings: Settings, extra: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Temporarily export the variables dbt's profiles read, DBT_TARGET_PATH (the data dir's own
    dbt target: orchestration.dbt_project.warm_partial_parse) and ``extra`` (e.g. a partition
    window), since DbtCliResource passes ``os.environ`` to its subprocess and has no ``env``
    option. Only spans the start of the subprocess."""
    wanted = {
        **settings.subprocess_env(),
        "DBT_TARGET_PATH": str(dbt_target_dir(settings)),
        **(extra or {}),
    }
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """The resources of every asset, check and sensor; explicit settings pin the data dir."""
    pulse = PulseResource.from_settings(settings) if settings is not None else PulseResource()
    return {
        "pulse": pulse,
        "dbt": DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR)),
    }
