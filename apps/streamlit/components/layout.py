"""The frame of every page: title, the one question it answers, how fresh its data is, the
drill-down breadcrumb; and the way a chart or table is shown (text alternative, data view)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import polars as pl
import streamlit as st

from analytics import charts, exports
from apps.streamlit import usage
from apps.streamlit.components.state import (
    SEGMENT_LABELS,
    View,
    drill_back,
    drill_into,
    drill_path,
)

# A chart's download menu floats over its top-right corner (beside the chart's title) instead
# of taking a row of its own under every chart: a row of zero height (its button overflows it).
_CHART_MENU_CSS = """<style>
div:has(> div[class*="st-key-"][class*="_exports"]) {
  height: 0 !important; min-height: 0 !important; overflow: visible !important; z-index: 3;
}
</style>"""


def page_header(title: str, answers: str, freshness: Any | None = None) -> None:
    """Title, the question the page answers, and the data's freshness (publication and live)."""
    st.html(_CHART_MENU_CSS)
    st.title(title)
    st.caption(answers)
    if freshness is not None:
        st.caption(freshness_line(freshness), help=_freshness_help(freshness))


def freshness_line(freshness: Any) -> str:
    """``Data through Feb 28 (published 09:14 UTC) · live through 10:02 UTC``."""
    parts = []
    if getattr(freshness, "data_end", None):
        published = _short_time(getattr(freshness, "published_at", None))
        parts.append(
            f"Data through {freshness.data_end:%b %d, %Y}"
            + (f" (published {published})" if published else "")
        )
    else:
        parts.append("No published data yet")
    through = getattr(freshness, "live_events_through", None)
    if through is not None:
        parts.append(f"today so far through {through:%H:%M} UTC (live)")
    return " · ".join(parts)


def _freshness_help(freshness: Any) -> str:
    pub = getattr(freshness, "publication_id", None) or "none"
    return (
        f"Published history comes from gold publication {pub}; the days after it are answered "
        "live from the collector's bronze events and labelled 'live'."
    )


def _short_time(value: Any) -> str | None:
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return when.strftime("%b %d %H:%M UTC")


def breadcrumb(view: View, root: str = "All data") -> None:
    """``All data › Platform: ios › Day: 2026-02-14``: each step is a button back to it."""
    if not view.drills:
        return
    with st.container(horizontal=True, key="breadcrumb", vertical_alignment="center"):
        st.markdown("**Drill-down:**")
        if st.button(root, key="crumb_0", type="tertiary", icon=":material/home:"):
            drill_back(0)
            st.rerun()
        for i, drill in enumerate(view.drills, start=1):
            st.markdown("›")
            last = i == len(view.drills)
            if st.button(drill.label(), key=f"crumb_{i}", type="tertiary", disabled=last):
                drill_back(i)
                st.rerun()
        if st.button("Undo", key="crumb_undo", icon=":material/undo:"):
            drill_back(len(view.drills) - 1)
            st.rerun()


TAB_PARAM = "tab"


def section_tabs(sections: Mapping[str, Callable[[], None]], *, key: str = TAB_PARAM) -> str:
    """The page's further sections as tabs, of which only the open one runs and renders.

    A browser spends 40–100 ms drawing each Vega chart, so a page that draws all its sections
    at once is slow to open however fast its queries are. The open tab lives in the URL
    (``?tab=Refunds``): a permalink reopens it, and AppTests choose one the same way.
    ``sections`` maps each tab's label to the function that draws it. Returns the open label."""
    tabs = st.tabs(list(sections), key=key, on_change="rerun", bind="query-params")
    opened = next(iter(sections))
    for (label, draw), tab in zip(sections.items(), tabs, strict=True):
        if tab.open:
            opened = label
            with tab:
                draw()
    return opened


def show_chart(
    chart: Any,
    *,
    key: str,
    drill: Mapping[str, str] | None = None,
    selection: str | None = None,
) -> None:
    """Draw a chart of :mod:`analytics.charts` with its text alternative. ``drill`` maps the
    selection's fields to drill dimensions (``{"revenue_date": "day"}``): a click narrows the
    page to the clicked value.

    An Altair chart of :mod:`analytics.charts` carries its text alternative as the spec's
    ``description`` (Vega-Lite makes it the SVG's accessible name): passing it again as ``alt``
    only makes Streamlit log a warning with a stack trace on every render."""
    if hasattr(chart, "layout"):  # Plotly (the flow chart): its text alternative beneath it
        st.plotly_chart(chart, key=key, config={"displaylogo": False})
        st.caption(charts.description_of(chart))
        _chart_downloads(chart, key, overlay=False)  # Plotly's own menu is at its top right
        return
    _chart_downloads(chart, key)
    if drill and selection:
        # A callback, not the returned state: it runs once per click, while the chart keeps its
        # selection across reruns (reading it on every run would re-drill after an Undo).
        # Keyed by the drill path too: after a drill-down (or its undo) the chart starts with no
        # selection, instead of dimming every bar but the one clicked before.
        key = f"{key}__" + "_".join(d.encode() for d in drill_path())
        st.altair_chart(
            chart,
            key=key,
            on_select=lambda: _apply_selection(st.session_state.get(key), selection, drill),
            selection_mode=[selection],
        )
    else:
        st.altair_chart(chart, key=key)


def _chart_downloads(chart: Any, key: str, *, overlay: bool = True) -> None:
    """One small menu at a chart's top right: PNG and SVG, drawn only when clicked (a page pays
    nothing for exports nobody asks for)."""
    name = key.split("__")[0]
    if hasattr(chart, "layout"):  # Plotly: drawn by plotly.js in headless Chromium

        def image(fmt: str) -> Any:
            from apps.streamlit.browser_render import plotly_image

            return lambda: plotly_image(chart, fmt)
    else:

        def image(fmt: str) -> Any:
            return lambda: exports.chart_png(chart) if fmt == "png" else exports.chart_svg(chart)

    with (
        st.container(
            horizontal=True,
            horizontal_alignment="right",
            key=f"{key}_exports" if overlay else f"{key}_downloads",
        ),
        _menu(key, "Download this chart") as menu,
    ):
        if not menu.open:
            return
        for fmt, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
            st.download_button(
                fmt.upper(),
                data=usage.counted_download(fmt, image(fmt)),
                file_name=f"{name}.{fmt}",
                mime=mime,
                on_click="ignore",
                key=f"{key}_{fmt}",
                width="stretch",
            )


def _apply_selection(state: Any, selection: str, drill: Mapping[str, str]) -> None:
    chosen = getattr(state, "selection", None)
    if chosen is None and isinstance(state, Mapping):
        chosen = state.get("selection")
    picked = (chosen or {}).get(selection) or []
    if not picked:
        return
    point = picked[0] if isinstance(picked, list) else picked
    for field, dimension in drill.items():
        value = point.get(field) if isinstance(point, Mapping) else None
        if value is None:
            continue
        if dimension == "day":
            value = _as_day(value)
        drill_into(dimension, value, rerun=False)  # a callback: Streamlit reruns after it


def _as_day(value: Any) -> dt.date | str:
    """Vega-Lite hands back a clicked temporal value as epoch milliseconds."""
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC).date()
    return str(value)[:10]


def data_table(
    frame: pl.DataFrame | pd.DataFrame,
    *,
    key: str,
    formats: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    height: int | str = "auto",
    searchable: bool = True,
) -> pd.DataFrame:
    """A sortable table (click a header), with a text filter over its rows, each column
    formatted by its unit (``formats``: column → unit of :mod:`analytics.charts`, or ``date`` /
    ``datetime``). Scrolls inside itself on a narrow screen."""
    data = frame.to_pandas() if isinstance(frame, pl.DataFrame) else frame
    with st.container(horizontal=True, vertical_alignment="center", key=f"{key}_tools"):
        if searchable and len(data) > 8:
            needle = st.text_input(
                "Filter rows",
                key=f"{key}_filter",
                placeholder="Type to filter",
                label_visibility="collapsed",
            )
            if needle:
                text = data.astype(str).apply(
                    lambda col: col.str.contains(needle, case=False, regex=False)
                )
                data = data[text.any(axis=1)]
        else:
            st.space("stretch")
        _table_downloads(data, key, labels)
    config: dict[str, Any] = {}
    for column, unit in (formats or {}).items():
        label = (labels or {}).get(column)
        if unit == "percent":
            config[column] = st.column_config.NumberColumn(label, format="percent")
        elif unit == "currency":
            config[column] = st.column_config.NumberColumn(label, format="dollar")
        elif unit == "count":
            config[column] = st.column_config.NumberColumn(label, format="localized")
        elif unit == "date":
            config[column] = st.column_config.DateColumn(label, format="MMM D, YYYY")
        elif unit == "datetime":  # shown in the column's own time zone (UTC here)
            config[column] = st.column_config.DatetimeColumn(label, format="MMM D, HH:mm")
        elif unit in charts.UNIT_SUFFIX:  # ms, seconds, minutes
            digits = 1 if unit == "minutes" else 0
            suffix = charts.UNIT_SUFFIX[unit].replace("%", "%%")
            config[column] = st.column_config.NumberColumn(label, format=f"%.{digits}f{suffix}")
        else:
            config[column] = st.column_config.NumberColumn(label, format="%.2f")
    for column, label in (labels or {}).items():
        config.setdefault(column, st.column_config.Column(label))
    st.dataframe(data, key=key, hide_index=True, column_config=config, height=height)
    return data


def _menu(key: str, help: str) -> Any:
    """A download menu whose buttons exist only while it is open (opening it reruns the page):
    a page with a menu on every chart and table would otherwise draw dozens of hidden buttons,
    a measurable part of its load time."""
    return st.popover(
        "",
        icon=":material/download:",
        type="tertiary",
        help=help,
        key=f"{key}_menu",
        on_change="rerun",
    )


def _table_downloads(data: pd.DataFrame, key: str, labels: Mapping[str, str] | None) -> None:
    """CSV and XLSX of the rows as shown (after the row filter), headed by the labels shown;
    built only when clicked. Past Excel's row limit only CSV is offered, and it says why."""
    name = key.split("__")[0]
    with _menu(key, "Download this table") as menu:
        if not menu.open:
            return
        st.download_button(
            "CSV",
            data=usage.counted_download("csv", lambda: exports.table_csv(data, labels)),
            file_name=f"{name}.csv",
            mime="text/csv",
            on_click="ignore",
            key=f"{key}_csv",
            width="stretch",
        )
        if exports.xlsx_fits(len(data)):
            st.download_button(
                "XLSX",
                data=usage.counted_download("xlsx", lambda: exports.table_xlsx(data, labels)),
                file_name=f"{name}.xlsx",
                mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                on_click="ignore",
                key=f"{key}_xlsx",
                width="stretch",
            )
        else:
            st.caption(
                f"XLSX: {len(data):,} rows is more than an Excel sheet holds "
                f"({exports.EXCEL_MAX_ROWS:,}); download CSV."
            )


def empty_state(message: str) -> None:
    st.info(message, icon=":material/info:")


def unfiltered_note(result: Any, names: Any = None) -> None:
    """Say which metrics of a query-layer result could not be split by the chosen segments (they
    are shown for everyone rather than misleadingly filtered); ``names`` limits it to some."""
    skipped = {m: s for m, s in result.unfiltered.items() if names is None or m in names}
    if skipped:
        text = ", ".join(
            f"{result.info(m).label} ({', '.join(SEGMENT_LABELS.get(x, x) for x in segs)})"
            for m, segs in skipped.items()
        )
        st.caption(
            f":material/filter_alt_off: Not split by segment in the data, so shown for "
            f"everyone: {text}."
        )
