"""The chart library: one function per chart kind, from a DataFrame to a chart specification.

Every reader that draws (the Streamlit pages, the report renderer, the gallery) builds its charts
here, so a metric looks the same everywhere: one palette, one number format per unit, one way
to show a comparison period and annotations. The functions are pure (no Streamlit): Altair
charts for everything Vega-Lite draws, a Plotly figure for the flow (Sankey) chart, which
Vega-Lite cannot draw.

Accessibility: the categorical palette is Okabe–Ito (distinguishable with the common colour-vision
deficiencies), sequential scales are viridis, and every chart carries a text alternative
(``description``, read by screen readers from the SVG's ``aria-label``) built from its data.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import altair as alt
import pandas as pd
import polars as pl

Unit = Literal[
    "count", "currency", "percent", "ratio", "seconds", "minutes", "hours", "days", "ms", "number"
]

# Okabe & Ito (2008), "Color Universal Design": safe for protanopia, deuteranopia, tritanopia.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
PRIMARY, COMPARISON, GOOD, BAD, NEUTRAL = PALETTE[0], "#8C8C8C", PALETTE[2], PALETTE[5], "#595959"
SEQUENTIAL = "viridis"
DEFAULT_HEIGHT = 280
CURRENCY = "USD"

# d3-format strings (Vega-Lite axes and tooltips) per unit.
D3_FORMATS: dict[str, str] = {
    "count": ",.0f",
    "currency": "$,.0f",
    "percent": ".1%",
    "ratio": ".2f",
    "seconds": ",.0f",
    "minutes": ",.1f",
    "hours": ",.1f",
    "days": ",.1f",
    "ms": ",.0f",
    "number": ",.2f",
}
UNIT_SUFFIX = {"seconds": " s", "minutes": " min", "hours": " h", "days": " d", "ms": " ms"}


def format_value(value: float | int | None, unit: str = "number", *, compact: bool = False) -> str:
    """A value as the cards, tables and tooltips show it: ``$12,340``, ``41.2%``, ``1,204``,
    ``3.4 s``; ``compact`` shortens large numbers (``$1.2M``) and long durations (``33.4 min``).
    ``None`` → an en dash."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if unit == "percent":
        return f"{value:.1%}"
    if unit == "ratio":
        return f"{value:.2f}"
    prefix = "$" if unit == "currency" else ""
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if compact and unit == "seconds" and magnitude >= 60:  # "33.4 min", not "2.0k"
        minutes = magnitude / 60
        return f"{sign}{minutes:,.1f} min" if minutes < 60 else f"{sign}{minutes / 60:,.1f} h"
    if compact and magnitude >= 1000:
        for threshold, letter in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if magnitude >= threshold:
                return f"{sign}{prefix}{magnitude / threshold:.1f}{letter}"
    if unit in ("count", "seconds", "ms") or (unit == "currency" and magnitude >= 10):
        text = f"{magnitude:,.0f}"
    elif unit == "currency":
        text = f"{magnitude:,.2f}"
    else:
        text = f"{magnitude:,.1f}" if unit in ("minutes", "hours", "days") else f"{magnitude:,.2f}"
    return f"{sign}{prefix}{text}{UNIT_SUFFIX.get(unit, '')}"


def unit_of(metric_unit: str, metric_format: str = "") -> str:
    """The chart unit of a catalogue metric (its ``unit`` and ``format`` from the dbt semantic
    layer): ``USD`` → currency, a ``%`` format → percent, seconds (minutes, hours, days, ms) →
    that unit, a whole-number format → count, anything else → number."""
    unit = (metric_unit or "").strip().lower()
    if "%" in metric_format:
        return "percent"
    if unit.startswith("usd") or metric_format.startswith("$"):
        return "currency"
    if unit in ("seconds", "minutes", "hours", "days", "ms"):
        return unit
    if ".0f" in metric_format:
        return "count"
    return "number"


def format_change(change: float | None) -> str:
    """A relative change as cards show it (``+8.1%``); None → ``n/a``."""
    return "n/a" if change is None else f"{change:+.1%}"


@dataclass(frozen=True)
class Annotation:
    """A note on a day ("pricing change", "outage"), drawn on every time chart that spans it."""

    day: dt.date
    label: str
    # The note's own day when ``day`` is the start of the week or month bar that holds it.
    on: dt.date | None = None


def _as_date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError):
        return None


def _annotations_in_span(
    annotations: Sequence[Annotation], values: Any, *, buckets: bool = False
) -> list[tuple[Annotation, float]]:
    """The notes a time chart shows, those on the days its data spans, each with where it
    falls across the chart (0 = left edge, 1 = right edge). ``buckets``: the x values are the
    starts of periods (weeks, months) drawn as bands; a note moves to the start of the band
    holding its day, so it adds no band of its own."""
    if not annotations:
        return []
    days = sorted({d for d in (_as_date(v) for v in values) if d is not None})
    if not days:
        return []
    shown = []
    if buckets:
        step = min((b - a for a, b in itertools.pairwise(days)), default=dt.timedelta(1))
        for note in sorted(annotations, key=lambda a: a.day):
            if days[0] <= note.day < days[-1] + step:
                start = max(d for d in days if d <= note.day)
                where = (days.index(start) + 0.5) / len(days)
                shown.append((Annotation(start, note.label, note.day), where))
        return shown
    # A time scale: a note is drawn at its day's midnight, which must lie within the data (an
    # intraday chart of the last minutes would otherwise stretch back to midnight).
    stamps = pd.to_datetime(pd.Series(list(values)), utc=True).dropna()
    first, last = stamps.min(), stamps.max()
    for note in sorted(annotations, key=lambda a: a.day):
        at = pd.Timestamp(note.day, tz="UTC")
        if first <= at <= last:
            shown.append((note, (at - first) / (last - first) if last > first else 0.5))
    return shown


def _annotation_layers(
    notes: Sequence[tuple[Annotation, float]], x: str, *, band: bool = False, tz: Any = None
) -> list[Any]:
    """A dashed vertical rule per note, a marker on top with the note as its tooltip, and a
    short label beside it (staggered over three rows so neighbouring notes do not overprint;
    on the rule's left in the chart's right third, so it never runs off the chart; long ones
    are cut, the tooltip has all of it). ``band``: the chart's x is a day band
    (``yearmonthdate(x):O``), not a time scale. ``tz``: the data's time zone (a note's midnight
    in it; naive data: naive, as Vega-Lite reads the data's own days)."""
    if not notes:
        return []
    frame = pd.DataFrame(
        {
            x: [pd.Timestamp(n.day, tz=tz) for n, _ in notes],
            "note": [n.label for n, _ in notes],
            "note_day": [(n.on or n.day).strftime("%b %d, %Y") for n, _ in notes],
            "row": [2 + 13 * (i % 3) for i in range(len(notes))],
            "right": [where > 0.66 for _, where in notes],
        }
    )
    position = alt.X(f"yearmonthdate({x}):O") if band else alt.X(f"{x}:T")
    tooltip = [alt.Tooltip("note_day:N", title="Annotation"), alt.Tooltip("note:N", title="Note")]
    base = alt.Chart(frame).encode(x=position)
    layers = [
        base.mark_rule(color=NEUTRAL, strokeDash=[3, 3], strokeWidth=1.2).encode(tooltip=tooltip),
        base.mark_point(
            shape="triangle-down", size=70, filled=True, color=NEUTRAL, opacity=1
        ).encode(y=alt.value(0), tooltip=tooltip),
    ]
    for right in (False, True):
        if not (frame["right"] == right).any():
            continue
        layers.append(
            base.transform_filter(alt.datum.right == right)
            .mark_text(
                align="right" if right else "left",
                baseline="top",
                dx=-6 if right else 6,
                fontSize=10,
                color=NEUTRAL,
                limit=110,
            )
            .encode(y=alt.Y("row:Q", scale=None), text="note:N", tooltip=tooltip)
        )
    return layers


def _annotations_text(notes: Sequence[tuple[Annotation, float]]) -> str:
    """The notes in a chart's text alternative."""
    if not notes:
        return ""
    return " Annotations: " + "; ".join(f"{(n.on or n.day)}: {n.label}" for n, _ in notes) + "."


def _tz(frame: pd.DataFrame, x: str) -> Any:
    return getattr(frame[x].dtype, "tz", None) if x in frame.columns else None


def _pandas(data: pl.DataFrame | pd.DataFrame) -> pd.DataFrame:
    return data.to_pandas() if isinstance(data, pl.DataFrame) else data


def _describe(kind: str, title: str, data: pd.DataFrame, x: str, y: str, unit: str) -> str:
    """A text alternative: what the chart shows, its range and its extremes, from the data."""
    if data.empty:
        return f"{kind} of {title}: no data."
    values = data[y].dropna()
    if values.empty:
        return f"{kind} of {title}: no values."
    top = data.loc[values.idxmax()]
    low = data.loc[values.idxmin()]
    first, last = data[x].iloc[0], data[x].iloc[-1]
    return (
        f"{kind} of {title}, {len(data)} points from {_text(first)} to {_text(last)}. "
        f"Highest {format_value(top[y], unit)} at {_text(top[x])}; "
        f"lowest {format_value(low[y], unit)} at {_text(low[x])}."
    )


def _text(value: Any) -> str:
    if isinstance(value, pd.Timestamp | dt.datetime):
        if (value.hour, value.minute, value.second) != (0, 0, 0):  # sub-daily data
            return value.strftime("%Y-%m-%d %H:%M:%S")
        return value.strftime("%Y-%m-%d")
    return str(value)


def _value_axis(unit: str) -> alt.Axis:
    """The value axis of a unit; counts tick at whole numbers only (no "0, 0, 1, 1")."""
    fmt = D3_FORMATS.get(unit, ",.2f")
    return alt.Axis(format=fmt, tickMinStep=1) if unit == "count" else alt.Axis(format=fmt)


def _legend_columns(frame: pd.DataFrame, field: str | None) -> int | None:
    """The legend sits below the chart in one row, which runs past a narrow chart with more
    than 3 categories: then it wraps into two columns, or one when a name is long (two columns
    of long names do not fit 390 px either). None: one row."""
    if not field or field not in frame.columns or frame[field].nunique() <= 3:
        return None
    longest = int(frame[field].astype(str).str.len().max())
    return 1 if longest > 16 else 2


def _color(frame: pd.DataFrame, field: str) -> Any:
    """A categorical colour, its legend wrapped by :func:`_legend_columns`."""
    columns = _legend_columns(frame, field)
    if columns is None:
        return alt.Color(f"{field}:N", title=None)
    return alt.Color(f"{field}:N", title=None, legend=alt.Legend(columns=columns))


def _legend_height(frame: pd.DataFrame, field: str | None) -> int:
    """Extra height for a wrapped legend: the chart's height includes its legend, so the plot
    would otherwise shrink to a sliver under a tall one."""
    columns = _legend_columns(frame, field)
    if columns is None:
        return 0
    rows = -(-int(frame[field].nunique()) // columns)
    return 20 * (rows - 1)


def _finish(chart: alt.TopLevelMixin, title: str | None, description: str, height: int) -> Any:
    props: dict[str, Any] = {"description": description, "height": height}
    if title:
        props["title"] = alt.Title(title, anchor="start", fontSize=14)
    return (
        chart.properties(width="container", **props)
        .configure_range(category=list(PALETTE))
        .configure_axis(labelFontSize=11, titleFontSize=12, grid=True, gridOpacity=0.4)
        .configure_view(strokeWidth=0)
        # At most four entries a row: a legend wraps instead of running off a phone's screen.
        .configure_legend(orient="bottom", labelFontSize=11, titleFontSize=11, columns=4)
    )


def line_chart(
    data: pl.DataFrame | pd.DataFrame,
    *,
    x: str,
    y: str,
    title: str | None = None,
    y_title: str | None = None,
    unit: str = "number",
    color: str | None = None,
    comparison: pl.DataFrame | pd.DataFrame | None = None,
    comparison_label: str = "comparison period",
    annotations: Sequence[Annotation] = (),
    area: bool = False,
    select: str | None = None,
    height: int = DEFAULT_HEIGHT,
    time_format: str = "%b %d",
    zero: bool = True,
    points: bool = False,
) -> Any:
    """A time series (``x`` temporal). ``comparison``: the same series of the comparison period,
    already shifted onto the current period's dates (``x``, ``y``), drawn dashed and grey.
    ``annotations`` become labelled vertical rules. ``select``: the name of a point selection on
    ``x`` (a click on a day reads back as that day: drill-down). ``time_format``: the x axis
    labels (d3 time format; with an hour or minute in it, tooltips say "Time", not "Day").
    ``zero=False`` fits the y axis to the data (values near 100 % that would look flat from 0);
    ``points`` marks every point (sparse series: a lone day is otherwise invisible)."""
    frame = _pandas(data)
    fmt = D3_FORMATS.get(unit, ",.2f")
    y_enc = alt.Y(f"{y}:Q", title=y_title or "", axis=_value_axis(unit), scale=alt.Scale(zero=zero))
    x_enc = alt.X(f"{x}:T", title=None, axis=alt.Axis(format=time_format, labelAngle=0))
    intraday = any(code in time_format for code in ("%H", "%I", "%M"))
    when = "Time" if intraday else "Day"
    when_format = "%b %d %H:%M" if intraday else "%b %d, %Y"
    tooltip = [
        alt.Tooltip(f"{x}:T", title=when, format=when_format),
        alt.Tooltip(f"{y}:Q", format=fmt, title=y_title),
    ]
    base = alt.Chart(frame)
    if color:
        tooltip.insert(1, alt.Tooltip(f"{color}:N"))
        main = base.mark_area(opacity=0.75) if area else base.mark_line(strokeWidth=2)
        main = main.encode(x=x_enc, y=y_enc, color=_color(frame, color))
    else:
        main = (
            base.mark_area(opacity=0.25, line={"color": PRIMARY}, color=PRIMARY)
            if area
            else base.mark_line(strokeWidth=2, color=PRIMARY)
        ).encode(x=x_enc, y=y_enc)
    dots = base.mark_point(size=40, opacity=0.9 if points else 0, filled=True).encode(
        x=x_enc, y=y_enc, tooltip=tooltip, **({"color": _color(frame, color)} if color else {})
    )
    if select:
        selection = alt.selection_point(name=select, fields=[x], on="click", nearest=True)
        dots = dots.add_params(selection)
    layers: list[Any] = []
    if comparison is not None:
        previous = _pandas(comparison)
        layers.append(
            alt.Chart(previous)
            .mark_line(strokeDash=[5, 4], color=COMPARISON, strokeWidth=1.5)
            .encode(
                x=x_enc,
                y=y_enc,
                tooltip=[
                    alt.Tooltip(f"{x}:T", title=when, format=when_format),
                    alt.Tooltip(f"{y}:Q", format=fmt, title=comparison_label),
                ],
            )
        )
    layers += [main, dots]
    shown = _annotations_in_span(annotations, frame[x] if x in frame.columns else ())
    layers += _annotation_layers(shown, x, tz=_tz(frame, x))
    description = _describe("Line chart", title or y_title or y, frame, x, y, unit)
    if comparison is not None:
        description += f" A dashed grey line shows the {comparison_label}."
    description += _annotations_text(shown)
    return _finish(alt.layer(*layers), title, description, height + _legend_height(frame, color))


def bar_chart(
    data: pl.DataFrame | pd.DataFrame,
    *,
    x: str,
    y: str,
    title: str | None = None,
    unit: str = "number",
    color: str | None = None,
    horizontal: bool = False,
    temporal: bool = False,
    normalize: bool = False,
    sort: Literal["value", "label", "none"] = "value",
    select: str | None = None,
    label_angle: int | None = None,
    height: int = DEFAULT_HEIGHT,
    time_format: str | None = None,
    annotations: Sequence[Annotation] = (),
) -> Any:
    """Bars of ``y`` by ``x`` (stacked by ``color`` when given; ``normalize``: shares that add to
    100 %). ``select``: a click on a bar reads back its ``x`` (and ``color``) value.
    ``time_format``: how a temporal ``x`` is written on the axis and in tooltips (d3 time format,
    e.g. ``"%H:%M:%S"`` for per-second counts; by default days on the axis). ``label_angle``: the angle of vertical bars' category labels (Vega-Lite's default turns
    them upright; 0 keeps a few short labels such as months readable). ``annotations``: on a
    ``temporal`` chart, a rule on each noted day's bar (a week's or month's bar holds the notes
    of its days)."""
    frame = _pandas(data)
    fmt = D3_FORMATS.get(unit, ",.2f")
    # Whole units get whole ticks (a max of 1 would otherwise read 0, 0, 0, 1, 1).
    order: Any = None
    if sort == "value" and not temporal:
        order = "-y" if not horizontal else "-x"
    elif sort == "label":
        order = "ascending"
    category = alt.X(
        f"{x}:{'T' if temporal else 'N'}",
        title=None,
        sort=order,
        axis=alt.Axis(labelAngle=label_angle) if label_angle is not None else alt.Undefined,
    )
    if temporal and time_format:  # sub-daily buckets (seconds, minutes): a time scale
        category = alt.X(f"{x}:T", title=None, axis=alt.Axis(format=time_format, labelAngle=0))
    elif temporal:  # one band per day/week/month (a time scale draws hairline bars for weeks)
        category = alt.X(
            f"yearmonthdate({x}):O", title=None, axis=alt.Axis(format="%b %d", labelAngle=0)
        )
    value = alt.Y(
        f"{y}:Q",
        title=None,
        stack="normalize" if normalize else ("zero" if color else None),
        axis=alt.Axis(format=".0%") if normalize else _value_axis(unit),
    )
    if horizontal:
        category = alt.Y(f"{x}:N", title=None, sort=order if order else None)
        value = alt.X(
            f"{y}:Q",
            title=None,
            stack="normalize" if normalize else ("zero" if color else None),
            axis=alt.Axis(format=".0%") if normalize else _value_axis(unit),
        )
    encoding: dict[str, Any] = {
        ("y" if horizontal else "x"): category,
        ("x" if horizontal else "y"): value,
        "tooltip": [
            alt.Tooltip(
                f"{x}:{'T' if temporal else 'N'}",
                **({"format": time_format} if temporal and time_format else {}),
            ),
            *([alt.Tooltip(f"{color}:N")] if color else []),
            alt.Tooltip(f"{y}:Q", format=fmt),
        ],
    }
    if color:
        encoding["color"] = _color(frame, color)
    chart = alt.Chart(frame).mark_bar(**({} if color else {"color": PRIMARY})).encode(**encoding)
    if select:
        fields = [x, *([color] if color else [])]
        selection = alt.selection_point(name=select, fields=fields, on="click")
        chart = chart.add_params(selection).encode(
            opacity=alt.condition(selection, alt.value(1.0), alt.value(0.45))
        )
    description = _describe("Bar chart", title or y, frame, x, y, unit)
    if temporal and not horizontal and annotations:
        band = time_format is None  # day bands, not a time scale
        values = frame[x] if x in frame.columns else ()
        shown = _annotations_in_span(annotations, values, buckets=band)
        if shown:
            layers = _annotation_layers(shown, x, band=band, tz=_tz(frame, x))
            chart = alt.layer(chart, *layers)
            description += _annotations_text(shown)
    return _finish(chart, title, description, height + _legend_height(frame, color))


def donut_chart(
    data: pl.DataFrame | pd.DataFrame,
    *,
    category: str,
    value: str,
    title: str | None = None,
    unit: str = "number",
    height: int = DEFAULT_HEIGHT,
) -> Any:
    """Shares of a whole (few categories: a bar chart reads better beyond six)."""
    frame = _pandas(data).copy()
    total = frame[value].sum()
    frame["share"] = frame[value] / total if total else 0.0
    fmt = D3_FORMATS.get(unit, ",.2f")
    chart = (
        alt.Chart(frame)
        .mark_arc(innerRadius=60, stroke="#fff")
        .encode(
            theta=alt.Theta(f"{value}:Q", stack=True),
            color=alt.Color(f"{category}:N", title=None),
            tooltip=[
                alt.Tooltip(f"{category}:N"),
                alt.Tooltip(f"{value}:Q", format=fmt),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
    )
    parts = "; ".join(
        f"{row[category]} {row['share']:.0%}"
        for _, row in frame.sort_values(value, ascending=False).iterrows()
    )
    # An arc has no axes that reserve room: the circle fills the view's height and the title is
    # drawn above the view, where the page clips it. The title's room is padding instead.
    return _finish(chart, title, f"Donut chart of {title or value}: {parts}.", height).properties(
        padding={"top": 28 if title else 5, "left": 5, "right": 5, "bottom": 5}
    )


def scatter_chart(
    data: pl.DataFrame | pd.DataFrame,
    *,
    x: str,
    y: str,
    title: str | None = None,
    x_unit: str = "number",
    y_unit: str = "number",
    size: str | None = None,
    color: str | None = None,
    label: str | None = None,
    select: str | None = None,
    x_zero: bool = True,
    height: int = DEFAULT_HEIGHT,
) -> Any:
    """Points of ``y`` against ``x``; ``label``: the field a tooltip names each point by (and
    that a click reads back). ``size``: a point's area grows with it, and a zero stays visible
    (a program that sold nothing is a point too). ``x_zero=False`` fits the x axis to the data."""
    frame = _pandas(data)
    encoding: dict[str, Any] = {
        "x": alt.X(
            f"{x}:Q",
            axis=_value_axis(x_unit),
            scale=alt.Scale(zero=x_zero),
        ),
        "y": alt.Y(f"{y}:Q", axis=_value_axis(y_unit)),
        "tooltip": [
            *([alt.Tooltip(f"{label}:N")] if label else []),
            alt.Tooltip(f"{x}:Q", format=D3_FORMATS.get(x_unit, ",.2f")),
            alt.Tooltip(f"{y}:Q", format=D3_FORMATS.get(y_unit, ",.2f")),
        ],
    }
    if size:
        encoding["size"] = alt.Size(f"{size}:Q", legend=None, scale=alt.Scale(range=[30, 400]))
        encoding["tooltip"].append(alt.Tooltip(f"{size}:Q", format=",.2f"))
    if color:
        encoding["color"] = alt.Color(f"{color}:N", title=None)
    chart = (
        alt.Chart(frame)
        .mark_circle(opacity=0.75, **({} if color else {"color": PRIMARY}))
        .encode(**encoding)
    )
    if select and label:
        selection = alt.selection_point(name=select, fields=[label], on="click")
        chart = chart.add_params(selection)
    description = (
        f"Scatter chart of {title or y} against {x}, {len(frame)} points."
        if not frame.empty
        else f"Scatter chart of {title or y}: no data."
    )
    return _finish(chart, title, description, height)


def curve_chart(
    data: pl.DataFrame | pd.DataFrame,
    *,
    x: str,
    y: str,
    color: str | None = None,
    title: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    unit: str = "percent",
    highlight: str | None = None,
    height: int = DEFAULT_HEIGHT,
) -> Any:
    """Curves of ``y`` over a numeric ``x`` (periods since signup, steps, buckets), one line per
    ``color`` value, with points and tooltips: retention curves overlaid for comparison.
    ``highlight``: a ``color`` value drawn thicker (the others thinner and lighter)."""
    frame = _pandas(data)
    fmt = D3_FORMATS.get(unit, ",.2f")
    x_enc = alt.X(
        f"{x}:Q", title=x_title or x, axis=alt.Axis(tickMinStep=1, format="d", labelAngle=0)
    )
    y_enc = alt.Y(f"{y}:Q", title=y_title or "", axis=alt.Axis(format=fmt))
    tooltip = [
        *([alt.Tooltip(f"{color}:N")] if color else []),
        alt.Tooltip(f"{x}:Q", title=x_title or x),
        alt.Tooltip(f"{y}:Q", format=fmt, title=y_title or y),
    ]
    base = alt.Chart(frame)
    encoding: dict[str, Any] = {"x": x_enc, "y": y_enc}
    if color:
        encoding["color"] = alt.Color(f"{color}:N", title=None)
        if highlight is not None:
            is_main = alt.datum[color] == highlight
            encoding["strokeWidth"] = alt.condition(is_main, alt.value(3), alt.value(1.5))
            encoding["opacity"] = alt.condition(is_main, alt.value(1.0), alt.value(0.55))
    line = base.mark_line(**({} if color else {"color": PRIMARY, "strokeWidth": 2})).encode(
        **encoding
    )
    points = base.mark_point(size=30, filled=True, **({} if color else {"color": PRIMARY})).encode(
        x=x_enc, y=y_enc, tooltip=tooltip, **({"color": f"{color}:N"} if color else {})
    )
    if frame.empty:
        description = f"Curve chart of {title or y}: no data."
    else:
        series = sorted(frame[color].astype(str).unique()) if color else [title or y]
        description = (
            f"Curve chart of {title or y}: {len(series)} series over {x_title or x} "
            f"{_text(frame[x].min())} to {_text(frame[x].max())}, values from "
            f"{format_value(frame[y].min(), unit)} to {format_value(frame[y].max(), unit)}."
        )
        if color:
            description += " Series: " + ", ".join(series[:12]) + "."
    return _finish(alt.layer(line, points), title, description, height)


def heatmap(
    data: pl.DataFrame | pd.DataFrame,
    *,
    x: str,
    y: str,
    value: str,
    title: str | None = None,
    unit: str = "percent",
    x_title: str | None = None,
    y_title: str | None = None,
    text: bool = True,
    select: str | None = None,
    height: int = DEFAULT_HEIGHT,
) -> Any:
    """A matrix of ``value`` by ``x`` × ``y`` (ordinal), viridis-coloured, with the values
    printed in the cells (``text``) so colour is never the only carrier of the number."""
    frame = _pandas(data)
    fmt = D3_FORMATS.get(unit, ",.2f")
    base = alt.Chart(frame).encode(
        x=alt.X(f"{x}:O", title=x_title, axis=alt.Axis(labelAngle=0)),
        y=alt.Y(f"{y}:O", title=y_title),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme=SEQUENTIAL), legend=None),
        tooltip=[
            alt.Tooltip(f"{y}:O"),
            alt.Tooltip(f"{x}:O"),
            alt.Tooltip(f"{value}:Q", format=fmt),
        ],
    )
    if select:
        selection = alt.selection_point(name=select, fields=[y], on="click")
        cells = cells.add_params(selection)
    layers = [cells]
    if text:
        layers.append(
            base.mark_text(fontSize=10).encode(
                text=alt.Text(f"{value}:Q", format=".0%" if unit == "percent" else fmt),
                color=alt.condition(
                    alt.datum[value] > float(frame[value].median())
                    if not frame.empty
                    else alt.datum[value] > 0,
                    alt.value("black"),
                    alt.value("white"),
                ),
            )
        )
    description = (
        f"Heatmap of {title or value}: {frame[y].nunique()} rows by {frame[x].nunique()} columns, "
        f"values from {format_value(frame[value].min(), unit)} to "
        f"{format_value(frame[value].max(), unit)}."
        if not frame.empty
        else f"Heatmap of {title or value}: no data."
    )
    return _finish(alt.layer(*layers), title, description, height)


def funnel_chart(
    steps: pl.DataFrame | pd.DataFrame,
    *,
    step: str = "step",
    value: str = "users",
    title: str | None = None,
    height: int = DEFAULT_HEIGHT,
) -> Any:
    """A funnel: one horizontal bar per step in the given order, labelled with its count, the
    conversion from the first step and from the step before."""
    frame = _pandas(steps).copy().reset_index(drop=True)
    first = frame[value].iloc[0] if not frame.empty else 0
    frame["order"] = range(len(frame))
    frame["of_first"] = frame[value] / first if first else 0.0
    previous = frame[value].shift(1)
    frame["of_previous"] = (frame[value] / previous).where(previous > 0)
    frame["label"] = [
        f"{format_value(v, 'count')}  ({p:.0%}" + (f", {s:.0%} of previous)" if s == s else ")")
        for v, p, s in zip(frame[value], frame["of_first"], frame["of_previous"], strict=True)
    ]
    base = alt.Chart(frame).encode(
        y=alt.Y(f"{step}:N", sort=alt.EncodingSortField("order"), title=None),
        tooltip=[
            alt.Tooltip(f"{step}:N"),
            alt.Tooltip(f"{value}:Q", format=",.0f"),
            alt.Tooltip("of_first:Q", format=".1%", title="of first step"),
            alt.Tooltip("of_previous:Q", format=".1%", title="of previous step"),
        ],
    )
    bars = base.mark_bar(color=PRIMARY).encode(x=alt.X(f"{value}:Q", title=None))
    labels = base.mark_text(align="left", dx=4, fontSize=11).encode(
        x=alt.X(f"{value}:Q"), text="label:N"
    )
    parts = "; ".join(f"{s}: {lab}" for s, lab in zip(frame[step], frame["label"], strict=True))
    return _finish(alt.layer(bars, labels), title, f"Funnel of {title or value}: {parts}.", height)


def waterfall_chart(
    movements: pl.DataFrame | pd.DataFrame,
    *,
    label: str = "movement",
    value: str = "amount",
    title: str | None = None,
    unit: str = "currency",
    horizontal: bool = False,
    height: int = DEFAULT_HEIGHT,
) -> Any:
    """A waterfall: the first row is the starting total, the middle rows signed movements, the
    last row the ending total (drawn from zero); increases green, decreases vermillion.
    ``horizontal``: one row per step, top to bottom (every label stays readable on a phone)."""
    frame = _pandas(movements).copy().reset_index(drop=True)
    n = len(frame)
    starts, ends, kinds = [], [], []
    running = 0.0
    for i, amount in enumerate(frame[value]):
        if i == 0 or i == n - 1:
            starts.append(0.0)
            ends.append(float(amount))
            running = float(amount)
            kinds.append("total")
        else:
            starts.append(running)
            running += float(amount)
            ends.append(running)
            kinds.append("increase" if amount >= 0 else "decrease")
    frame["start"], frame["end"], frame["kind"], frame["order"] = starts, ends, kinds, range(n)
    fmt = D3_FORMATS.get(unit, ",.2f")
    step_axis = (alt.Y if horizontal else alt.X)(
        f"{label}:N",
        sort=alt.EncodingSortField("order"),
        title=None,
        axis=alt.Axis(labelAngle=0),
    )
    value_axis = (alt.X if horizontal else alt.Y)("start:Q", title=None, axis=alt.Axis(format=fmt))
    positions: dict[str, Any] = (
        {"y": step_axis, "x": value_axis, "x2": "end:Q"}
        if horizontal
        else {"x": step_axis, "y": value_axis, "y2": "end:Q"}
    )
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            **positions,
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(
                    domain=["total", "increase", "decrease"], range=[PRIMARY, GOOD, BAD]
                ),
                title=None,
            ),
            tooltip=[alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{value}:Q", format=fmt)],
        )
    )
    parts = "; ".join(
        f"{lab} {format_value(v, unit)}" for lab, v in zip(frame[label], frame[value], strict=True)
    )
    return _finish(chart, title, f"Waterfall of {title or value}: {parts}.", height)


def sparkline(
    data: pl.DataFrame | pd.DataFrame, *, x: str, y: str, unit: str = "number", height: int = 48
) -> Any:
    """A tiny trend line without axes, for a KPI card."""
    frame = _pandas(data)
    chart = (
        alt.Chart(frame)
        .mark_area(opacity=0.25, line={"color": PRIMARY, "strokeWidth": 1.5}, color=PRIMARY)
        .encode(
            x=alt.X(f"{x}:T", axis=None),
            y=alt.Y(f"{y}:Q", axis=None, scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip(f"{x}:T"), alt.Tooltip(f"{y}:Q", format=D3_FORMATS.get(unit))],
        )
        .properties(
            height=height,
            width="container",
            description=_describe("Sparkline", y, frame, x, y, unit),
        )
        .configure_view(strokeWidth=0)
    )
    return chart


def flow_chart(
    links: pl.DataFrame | pd.DataFrame,
    *,
    source: str = "from_screen",
    target: str = "to_screen",
    value: str = "transitions",
    title: str | None = None,
    height: int = 420,
) -> Any:
    """A flow (Sankey) of ``value`` from ``source`` to ``target`` nodes, as a Plotly figure.

    A node named on both sides (Home → Workouts → Home) would make a cycle, which a Sankey cannot
    draw: targets are drawn as their own column ("→ Home")."""
    import plotly.graph_objects as go

    frame = _pandas(links)
    sources = sorted(frame[source].astype(str).unique())
    targets = sorted(frame[target].astype(str).unique())
    labels = sources + [f"→ {t}" for t in targets]
    index = {name: i for i, name in enumerate(sources)}
    tindex = {name: len(sources) + i for i, name in enumerate(targets)}
    node_colors = [PALETTE[i % (len(PALETTE) - 2)] for i in range(len(labels))]
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": labels, "pad": 12, "thickness": 14, "color": node_colors},
            link={
                "source": [index[str(s)] for s in frame[source]],
                "target": [tindex[str(t)] for t in frame[target]],
                "value": [float(v) for v in frame[value]],
                "color": "rgba(0,114,178,0.25)",
            },
        )
    )
    figure.update_layout(
        title={"text": title, "x": 0, "font": {"size": 14}} if title else None,
        height=height,
        margin={"l": 8, "r": 8, "t": 36 if title else 8, "b": 8},
        font={"size": 11},
    )
    top = frame.sort_values(value, ascending=False).head(3)
    figure.layout.meta = {
        "description": f"Flow chart of {title or value}: {len(frame)} links; largest "
        + "; ".join(
            f"{s} → {t} {format_value(v, 'count')}"
            for s, t, v in zip(top[source], top[target], top[value], strict=True)
        )
        + "."
    }
    return figure


def description_of(chart: Any) -> str:
    """The text alternative of a chart built here (Altair or the Plotly flow chart)."""
    if hasattr(chart, "to_dict") and not hasattr(chart, "layout"):
        return str(chart.to_dict().get("description", ""))
    meta = getattr(getattr(chart, "layout", None), "meta", None) or {}
    return str(meta.get("description", "")) if isinstance(meta, dict) else ""
