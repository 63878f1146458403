"""One widget of a user-built dashboard, drawn from the query layer with the chart library: the
widget's own filters on top of the page's (its date range replaces the page's; its segments
narrow them), so a number on a dashboard equals the same number on a curated page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import streamlit as st

from analytics import charts
from analytics.dashboards import CHARTS, Widget, breakdown_label
from analytics.periods import Period
from apps.streamlit.components.cards import card_for, kpi_card
from apps.streamlit.components.layout import data_table, empty_state, show_chart, unfiltered_note
from apps.streamlit.components.state import View

PAGE = "dashboards"
MAX_SERIES = 8  # a breakdown draws its largest categories; the rest would be unreadable


def widget_period(widget: Widget, view: View, first_day: dt.date, last_day: dt.date) -> Period:
    """The widget's own date range if it has one, else the page's."""
    if widget.date_range is not None:
        return widget.date_range.resolve(first_day, last_day)
    return view.effective_period


def widget_filters(widget: Widget, view: View) -> dict[str, tuple[str, ...]]:
    """The page's segment filters, with the widget's replacing the page's for the same segment."""
    return {**view.filters, **{k: tuple(v) for k, v in widget.segments.items()}}


def widget_title(widget: Widget, info: Any) -> str:
    if widget.title:
        return widget.title
    by = f" by {breakdown_label(widget.breakdown).lower()}" if widget.breakdown else ""
    return f"{info.label}{by}"


def _grain(info: Any, period: Period) -> str:
    if info.time_grain != "day":
        return info.time_grain
    return "day" if period.days <= 62 else "week"


def _top(frame: pl.DataFrame, by: str, metric: str) -> pl.DataFrame:
    keep = (
        frame.group_by(by)
        .agg(pl.col(metric).sum())
        .sort(metric, descending=True)
        .head(MAX_SERIES)[by]
    )
    return frame.filter(pl.col(by).is_in(keep.implode()))


def render_widget(
    ql: Any,
    widget: Widget,
    view: View,
    first_day: dt.date,
    last_day: dt.date,
    *,
    key: str,
) -> None:
    """Draw ``widget`` (inside the caller's card)."""
    info = ql.info(widget.metric)
    period = widget_period(widget, view, first_day, last_day)
    query = {
        "start": period.start,
        "end": period.end,
        "filters": widget_filters(widget, view),
        "page": PAGE,
    }
    unit = charts.unit_of(info.unit, info.format)
    title = widget_title(widget, info)
    by = widget.breakdown
    if widget.chart == "kpi":
        totals = ql.metrics([widget.metric], compare=view.compare_arg, **query)
        trend: list[float] = []
        if info.time_grain == "day" and period.days > 1:
            daily = ql.metrics([widget.metric], grain="day", **query).combined().sort("period")
            trend = daily[widget.metric].to_list()
        kpi_card(card_for(totals, widget.metric, trend=trend, label=title), key=key)
        if widget.date_range is not None:
            st.caption(widget.date_range.label())
        unfiltered_note(totals)
        return
    st.markdown(f"**{title}**")
    st.caption(_subtitle(widget, period))
    grain = _grain(info, period)
    if widget.chart == "table" or (widget.chart == "bar" and by):
        per_period = widget.chart == "table" and not by
        result = ql.metrics(
            [widget.metric],
            grain=grain if per_period else None,
            group_by=[by] if by else (),
            **query,
        )
        frame = result.frame.drop("source", strict=False)
        if by:
            frame = frame.drop_nulls(by).with_columns(pl.col(by).cast(pl.String))
            frame = frame.sort(widget.metric, descending=True, nulls_last=True)
        if frame.is_empty():
            empty_state("No data for these filters.")
        elif widget.chart == "table":
            formats = {widget.metric: unit, **({"period": "date"} if per_period else {})}
            labels = {widget.metric: info.label, **({by: breakdown_label(by)} if by else {})}
            data_table(frame, key=f"{key}_table", formats=formats, labels=labels, height=260)
        else:
            show_chart(
                charts.bar_chart(
                    frame.head(12),
                    x=by,
                    y=widget.metric,
                    unit=unit,
                    horizontal=True,
                    height=max(120, 26 * min(frame.height, 12)),
                ),
                key=f"{key}_chart",
            )
        unfiltered_note(result)
        return
    result = ql.metrics([widget.metric], grain=grain, group_by=[by] if by else (), **query)
    frame = result.combined() if not by else result.frame
    if by:
        frame = _top(
            frame.drop_nulls(by).with_columns(pl.col(by).cast(pl.String)), by, widget.metric
        )
    frame = frame.sort("period")
    if frame.is_empty():
        empty_state("No data for these filters.")
    elif widget.chart in ("line", "area"):
        show_chart(
            charts.line_chart(
                frame,
                x="period",
                y=widget.metric,
                y_title=info.label,
                unit=unit,
                color=by,
                area=widget.chart == "area",
                points=frame.height < 3,
            ),
            key=f"{key}_chart",
        )
    else:  # bar over time, or stacked bar
        show_chart(
            charts.bar_chart(
                frame,
                x="period",
                y=widget.metric,
                color=by,
                temporal=True,
                unit=unit,
            ),
            key=f"{key}_chart",
        )
    unfiltered_note(result)


def _subtitle(widget: Widget, period: Period) -> str:
    parts = [CHARTS[widget.chart], period.label()]
    for name, values in widget.segments.items():
        parts.append(f"{breakdown_label(name)}: {', '.join(values)}")
    return " · ".join(parts)
