"""Jobs: named selections of the asset graph."""

from __future__ import annotations

import dagster as dg

# Everything materializable: dbt models (+ their tests as checks), GX checks, churn model, drift.
# Bronze tables are observed, not materialized; they are observed by `observe_bronze_job`.
full_refresh_job = dg.define_asset_job(
    name="pulse_full_refresh",
    selection=dg.AssetSelection.all(),
    description="Rebuild every asset: dbt staging and marts, checks, churn model, drift report.",
)

JOBS = [full_refresh_job]
