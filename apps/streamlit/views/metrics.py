"""Metric definitions: every metric of the semantic layer with its definition, aggregation, unit,
direction, segments and source — the entry of docs/metrics.md, from the same manifest the numbers
come from. Cards link here (``?metric=<name>``)."""

from __future__ import annotations

import streamlit as st

from analytics.docs import CATEGORIES, defining_files, entry
from apps.streamlit.components.layout import page_header
from apps.streamlit.queries import query_layer

page_header(
    "Metric definitions",
    "What exactly does each number mean, how is it aggregated over a period, and where does it come from?",
)
ql = query_layer()
catalogue = sorted(ql.catalogue(), key=lambda i: (i.category, i.label))
files = defining_files()
names = [i.name for i in catalogue]
chosen = st.selectbox(
    "Metric",
    options=names,
    # No format_func: the URL holds the metric's name (cards link to ?metric=<name>).
    index=None,
    placeholder="Search a metric by name",
    key="metric",
    bind="query-params",
)
if chosen:
    info = ql.info(chosen)
    with st.container(border=True, key="metric_entry"):
        st.markdown(entry(info, files).replace("#### ", "### ", 1))
        if info.inputs:
            st.caption(
                "Computed from: " + ", ".join(f"[{n}](/metrics?metric={n})" for n in info.inputs)
            )

st.subheader("All metrics")
for category in dict.fromkeys(i.category for i in catalogue):
    rows = [i for i in catalogue if i.category == category]
    with st.expander(
        f"{CATEGORIES.get(category, category.title())} ({len(rows)})", expanded=not chosen
    ):
        # One element per category, not per metric: each element costs the browser a render.
        st.markdown(
            "\n".join(
                f"- **[{info.label}](/metrics?metric={info.name})** `{info.name}` — "
                f"{info.description}"
                for info in rows
            )
        )
