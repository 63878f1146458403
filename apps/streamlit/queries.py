"""The dashboards' handle on the one query layer (:mod:`analytics.query`): one QueryLayer per
Streamlit process, shared by every session and page (it is thread-safe, caches by publication,
and logs each query with the page that asked)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import streamlit as st

from analytics.query import QueryLayer
from analytics.targets import Target, load_targets
from apps.streamlit.components.state import SEGMENT_LABELS
from core.settings import get_settings

# Dashboards sign in with the next issue; until then every query is logged as the viewer role.
DEFAULT_ROLE = "viewer"


@st.cache_resource(show_spinner=False)
def query_layer() -> QueryLayer:
    return QueryLayer(get_settings(), role=DEFAULT_ROLE)


def data_bounds(ql: QueryLayer, metric: str = "dau") -> tuple[dt.date, dt.date, object] | None:
    """(first day, last day, freshness) of the published data plus today so far; None when
    nothing is published yet."""
    from lake.gold import MartNotPublished

    try:
        result = ql.metrics([metric], page="bounds")
    except MartNotPublished:
        return None
    fresh = result.freshness
    if fresh.data_start is None or fresh.data_end is None:
        return None
    # The live days count once bronze holds events for them (a world replayed from the past has
    # none: its range ends with the publication).
    live_end = fresh.live_end if (fresh.live_events or 0) > 0 else None
    last = max(fresh.data_end, live_end or fresh.data_end)
    return fresh.data_start, last, fresh


@st.cache_data(ttl=300, show_spinner=False)
def segment_options(publication: str | None) -> Mapping[str, list[str]]:
    """The values each global segment takes in the publication (cached per publication)."""
    ql = query_layer()
    out: dict[str, list[str]] = {}
    for name in SEGMENT_LABELS:
        try:
            out[name] = [str(v) for v in ql.dimension_values(name) if v is not None]
        except Exception:  # a segment no metric has: not offered
            out[name] = []
    return out


@st.cache_data(ttl=60, show_spinner=False)
def kpi_targets() -> dict[str, Target]:
    """The KPI targets of ``PULSE_TARGETS_FILE`` (default: the bundled file), re-read a minute
    after the file changes."""
    return load_targets(get_settings().targets_file)
