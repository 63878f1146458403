"""Great Expectations suites kept as code, one module per layer: :mod:`.bronze` (the collector's
Delta tables), :mod:`.staging` (dbt's ``stg_*`` models) and :mod:`.marts` (the gold marts of every
domain). Each suite is a :class:`quality.gx_suites.Suite` of expectation groups with a severity."""

from quality.suites.bronze import bronze_suites
from quality.suites.marts import mart_suites
from quality.suites.staging import staging_suites

__all__ = ["bronze_suites", "mart_suites", "staging_suites"]
