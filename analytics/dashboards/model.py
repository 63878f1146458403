"""What a user-built dashboard is, and the checks that keep it answerable (pure).

A dashboard is an ordered list of widgets; each widget shows one metric of the catalogue
(:mod:`analytics.catalogue`) as one chart type, optionally broken down by one of the metric's
dimensions, with its own filters (segments, a date range). Everything a user or a template file
gives is checked against the catalogue here, so a stored dashboard never names a metric, a chart
or a dimension the query layer would refuse; the errors say what to pick instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from analytics.catalogue import SEGMENTS, MetricInfo
from analytics.periods import Period

# Chart types, with the label the builder shows.
CHARTS: dict[str, str] = {
    "kpi": "KPI card",
    "line": "Line",
    "area": "Area",
    "bar": "Bar",
    "stacked_bar": "Stacked bar",
    "table": "Table",
}
# Widths on the dashboard's grid (fractions of a row), with their labels.
WIDTHS: dict[str, str] = {"third": "1/3", "half": "1/2", "two_thirds": "2/3", "full": "Full"}
WIDTH_FRACTIONS: dict[str, float] = {"third": 1 / 3, "half": 1 / 2, "two_thirds": 2 / 3, "full": 1}
# Relative date ranges, counted back from the last day with data (a replayed world ends in the
# past: "today" would show nothing).
RELATIVE_RANGES: dict[str, str] = {
    "last_7_days": "Last 7 days",
    "last_28_days": "Last 28 days",
    "last_90_days": "Last 90 days",
    "this_month": "This month",
    "last_month": "Last month",
    "all_time": "All time",
}
# Totals of these aggregations add up across a breakdown's categories: they may be stacked.
STACKABLE = ("sum", "count_distinct")
MAX_WIDGETS = 40
MAX_TITLE = 120


class DashboardError(ValueError):
    """A dashboard, widget, share or template is not valid; the message says what to fix."""


@dataclass(frozen=True)
class DateRange:
    """A widget's or a preference's date range: a relative one (``last_28_days``) or fixed days."""

    relative: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    def resolve(self, first_day: dt.date, last_day: dt.date) -> Period:
        """The days it covers in data running ``first_day .. last_day`` (clamped to it)."""
        if self.relative is None:
            start, end = self.start or first_day, self.end or last_day
        elif self.relative == "all_time":
            start, end = first_day, last_day
        elif self.relative == "this_month":
            start, end = last_day.replace(day=1), last_day
        elif self.relative == "last_month":
            end = last_day.replace(day=1) - dt.timedelta(days=1)
            start = end.replace(day=1)
        else:
            days = int(self.relative.split("_")[1])
            start, end = last_day - dt.timedelta(days=days - 1), last_day
        start, end = max(start, first_day), min(end, last_day)
        return Period(min(start, end), end)

    def label(self) -> str:
        if self.relative is not None:
            return RELATIVE_RANGES[self.relative]
        return f"{self.start:%b %d, %Y} – {self.end:%b %d, %Y}"

    def to_json(self) -> Any:
        if self.relative is not None:
            return self.relative
        return {"start": str(self.start), "end": str(self.end)}


def parse_date_range(value: Any, where: str = "date range") -> DateRange | None:
    """``"last_28_days"``, ``{"start": "2026-02-01", "end": "2026-02-28"}``, or None."""
    if value in (None, "", "page"):
        return None
    if isinstance(value, DateRange):
        value = value.to_json()
    if isinstance(value, str):
        if value not in RELATIVE_RANGES:
            raise DashboardError(
                f"{where}: unknown relative range {value!r}; use one of "
                f"{', '.join(RELATIVE_RANGES)} or {{start: YYYY-MM-DD, end: YYYY-MM-DD}}"
            )
        return DateRange(relative=value)
    if isinstance(value, Mapping) and set(value) == {"start", "end"}:
        try:
            start, end = (
                v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))
                for v in (value["start"], value["end"])
            )
        except ValueError as exc:
            raise DashboardError(f"{where}: {exc} (write days as YYYY-MM-DD)") from None
        if start > end:
            raise DashboardError(f"{where}: starts ({start}) after it ends ({end})")
        return DateRange(start=start, end=end)
    raise DashboardError(
        f"{where}: {value!r} is not a date range; use one of {', '.join(RELATIVE_RANGES)} "
        "or {start: YYYY-MM-DD, end: YYYY-MM-DD}"
    )


@dataclass(frozen=True)
class Widget:
    """One tile of a dashboard. ``segments``: global segment → values it is narrowed to;
    ``date_range``: None follows the page's date range."""

    metric: str
    chart: str = "line"
    width: str = "half"
    breakdown: str | None = None
    segments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    date_range: DateRange | None = None
    title: str | None = None
    id: str = ""

    def filters_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.segments:
            out["segments"] = {k: list(v) for k, v in self.segments.items()}
        if self.date_range is not None:
            out["date_range"] = self.date_range.to_json()
        return out

    def to_dict(self) -> dict[str, Any]:
        """As a template file or an export writes it."""
        out: dict[str, Any] = {"metric": self.metric, "chart": self.chart, "width": self.width}
        if self.breakdown:
            out["breakdown"] = self.breakdown
        if self.title:
            out["title"] = self.title
        return out | self.filters_json()


@dataclass(frozen=True)
class Dashboard:
    """A saved dashboard. ``version`` grows by one at each save: a save from an older version
    is refused (someone else saved in between)."""

    id: str
    title: str
    owner: str
    widgets: tuple[Widget, ...] = ()
    description: str = ""
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    updated_by: str | None = None
    template: str | None = None  # the template it was started from


def chart_types_for(info: MetricInfo) -> tuple[str, ...]:
    """The chart types that can show ``info``: every metric has a card, a trend and a table;
    stacked bars only for totals that add up across categories, and only with a breakdown."""
    kinds = ["kpi", "line", "area", "bar", "table"]
    if info.aggregation in STACKABLE and breakdowns_for(info):
        kinds.insert(4, "stacked_bar")
    return tuple(kinds)


def breakdowns_for(info: MetricInfo) -> tuple[str, ...]:
    """What ``info`` can be broken down by: its global segments first (``platform``), then its
    other categorical dimensions (``user__age_band``); time dimensions are the x axis instead."""
    segments = tuple(info.segments)
    realized = set(info.segments.values())
    others = tuple(d for d in info.dimensions if d not in realized and not _is_time_dimension(d))
    return segments + others


def _is_time_dimension(name: str) -> bool:
    leaf = name.rsplit("__", 1)[-1]
    return leaf.endswith(("_date", "_month", "_week", "_day", "_at")) or leaf in ("date", "month")


def breakdown_label(name: str) -> str:
    """``platform`` → ``Platform``; ``user__age_band`` → ``Age band``."""
    leaf = name.rsplit("__", 1)[-1]
    return leaf.replace("_", " ").capitalize()


def check_widget(raw: Widget | Mapping[str, Any], catalogue: Mapping[str, MetricInfo]) -> Widget:
    """A valid widget from a :class:`Widget` or a mapping (a template entry, a form), or a
    :class:`DashboardError` naming the bad field and the choices."""
    if isinstance(raw, Widget):
        data: dict[str, Any] = raw.to_dict() | {"id": raw.id}
    elif isinstance(raw, Mapping):
        data = dict(raw)
    else:
        raise DashboardError(f"a widget is a mapping of metric, chart, width…, not {raw!r}")
    known = {"metric", "chart", "width", "breakdown", "segments", "date_range", "title", "id"}
    unknown = set(data) - known
    if unknown:
        raise DashboardError(
            f"unknown widget field(s) {', '.join(sorted(unknown))}; a widget has "
            f"{', '.join(sorted(known - {'id'}))}"
        )
    metric = str(data.get("metric") or "").lower()
    if not metric:
        raise DashboardError("a widget needs a metric (a name from the metric catalogue)")
    if metric not in catalogue:
        raise DashboardError(
            f"unknown metric {metric!r}; pick one of the catalogue: {', '.join(sorted(catalogue))}"
        )
    info = catalogue[metric]
    breakdown = data.get("breakdown") or None
    if breakdown is not None:
        options = breakdowns_for(info)
        if breakdown not in options:
            raise DashboardError(
                f"{info.label} cannot be broken down by {breakdown!r}; "
                + (f"choose one of {', '.join(options)}" if options else "it has no dimensions")
            )
    chart = data.get("chart") or "line"
    if chart not in CHARTS:
        raise DashboardError(f"unknown chart type {chart!r}; use one of {', '.join(CHARTS)}")
    if chart not in chart_types_for(info):
        raise DashboardError(
            f"{info.label} cannot be shown as a {CHARTS[chart].lower()}"
            + (" (its values do not add up across categories)" if chart == "stacked_bar" else "")
            + f"; use one of {', '.join(chart_types_for(info))}"
        )
    if chart == "stacked_bar" and breakdown is None:
        raise DashboardError("a stacked bar needs a breakdown: pick the dimension to stack by")
    if chart == "kpi" and breakdown is not None:
        raise DashboardError("a KPI card shows one number: remove the breakdown or pick a bar")
    width = data.get("width") or "half"
    if width not in WIDTHS:
        raise DashboardError(f"unknown width {width!r}; use one of {', '.join(WIDTHS)}")
    segments = _check_segments(data.get("segments") or {}, info)
    date_range = parse_date_range(data.get("date_range"), f"{info.label} widget's date range")
    title = (str(data["title"]).strip() or None) if data.get("title") else None
    if title and len(title) > MAX_TITLE:
        raise DashboardError(f"a widget title has at most {MAX_TITLE} characters")
    return Widget(
        metric=metric,
        chart=chart,
        width=width,
        breakdown=breakdown,
        segments=segments,
        date_range=date_range,
        title=title,
        id=str(data.get("id") or ""),
    )


def _check_segments(raw: Any, info: MetricInfo) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise DashboardError(
            f"segments: a mapping of segment → values (e.g. {{platform: [ios]}}), not {raw!r}"
        )
    out: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        if name not in SEGMENTS:
            raise DashboardError(
                f"unknown segment {name!r}; the segments are {', '.join(SEGMENTS)}"
            )
        if name not in info.segments:
            can = ", ".join(info.segments) or "none"
            raise DashboardError(f"{info.label} cannot be filtered by {name} (its segments: {can})")
        vals = (values,) if isinstance(values, str) else tuple(str(v) for v in values or ())
        if vals:
            out[name] = vals
    return out


def check_title(title: Any) -> str:
    text = " ".join(str(title or "").split())
    if not text:
        raise DashboardError("a dashboard needs a title")
    if len(text) > MAX_TITLE:
        raise DashboardError(f"a dashboard title has at most {MAX_TITLE} characters")
    return text


def check_widgets(
    widgets: Sequence[Widget | Mapping[str, Any]], catalogue: Mapping[str, MetricInfo]
) -> tuple[Widget, ...]:
    """Every widget checked; the error names the widget by its position (1-based)."""
    if len(widgets) > MAX_WIDGETS:
        raise DashboardError(f"a dashboard holds at most {MAX_WIDGETS} widgets")
    out = []
    for i, raw in enumerate(widgets, start=1):
        try:
            out.append(check_widget(raw, catalogue))
        except DashboardError as exc:
            raise DashboardError(f"widget {i}: {exc}") from None
    return tuple(out)


def with_widget_ids(widgets: Sequence[Widget], new_id: Any) -> tuple[Widget, ...]:
    """Widgets that have no id yet get one from ``new_id()``."""
    return tuple(w if w.id else replace(w, id=new_id()) for w in widgets)
