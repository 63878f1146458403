"""What a page is looking at: the global filters and the drill-down path, kept in the URL.

Every widget here binds to the query string (``bind="query-params"``), so a copied link reopens
the same view: ``?range=2026-02-01&range=2026-02-28&compare=previous_year&platform=ios``.
The drill-down path is the repeated ``drill`` parameter (``drill=platform:ios&drill=day:2026-02-14``):
each click narrows the page one step, the breadcrumb undoes any number of steps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import streamlit as st

from analytics.periods import COMPARE_MODES, Period, comparison_period, default_period

# Global segments, as the query layer names them, with their labels.
SEGMENT_LABELS: dict[str, str] = {
    "platform": "Platform",
    "acquisition_channel": "Channel",
    "plan": "Plan",
    "country": "Country",
}
DRILL_PARAM = "drill"


@dataclass(frozen=True)
class Drill:
    """One drill-down step: a segment value or a day."""

    dimension: str  # a segment name or "day"
    value: str

    def label(self) -> str:
        name = (
            "Day" if self.dimension == "day" else SEGMENT_LABELS.get(self.dimension, self.dimension)
        )
        return f"{name}: {self.value}"

    def encode(self) -> str:
        return f"{self.dimension}:{self.value}"

    @staticmethod
    def decode(text: str) -> Drill | None:
        dimension, sep, value = text.partition(":")
        if not sep or not value or (dimension != "day" and dimension not in SEGMENT_LABELS):
            return None
        if dimension == "day":
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                return None
        return Drill(dimension, value)


@dataclass(frozen=True)
class View:
    """The filters every card and chart of a page applies."""

    period: Period
    compare: str  # previous_period | previous_year | none
    segments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    drills: tuple[Drill, ...] = ()

    @property
    def comparison(self) -> Period | None:
        return comparison_period(self.effective_period, self.compare)

    @property
    def effective_period(self) -> Period:
        """The period after a day drill-down (the drilled day alone)."""
        days = [d for d in self.drills if d.dimension == "day"]
        if days:
            day = dt.date.fromisoformat(days[-1].value)
            return Period(day, day)
        return self.period

    @property
    def filters(self) -> dict[str, tuple[str, ...]]:
        """Segment filters for the query layer: the selected values, narrowed by drill-downs."""
        out = {k: v for k, v in self.segments.items() if v}
        for drill in self.drills:
            if drill.dimension != "day":
                out[drill.dimension] = (drill.value,)
        return out

    @property
    def compare_arg(self) -> str | None:
        return None if self.compare == "none" else self.compare

    def describe(self) -> str:
        parts = [self.effective_period.label()]
        if self.comparison is not None:
            parts.append(f"vs {COMPARE_MODES[self.compare].lower()} ({self.comparison.label()})")
        for name, values in self.filters.items():
            parts.append(f"{SEGMENT_LABELS.get(name, name)}: {', '.join(values)}")
        return " · ".join(parts)


def drill_path() -> tuple[Drill, ...]:
    return tuple(
        d for d in (Drill.decode(t) for t in st.query_params.get_all(DRILL_PARAM)) if d is not None
    )


def drill_into(dimension: str, value: object, *, rerun: bool = True) -> None:
    """Narrow the page by one step (a click on a bar, a point or a card), then rerun (not from
    a widget callback, after which Streamlit reruns anyway)."""
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    step = Drill(dimension, text[:10] if dimension == "day" else text)
    path = [d for d in drill_path() if d.dimension != dimension]
    st.query_params[DRILL_PARAM] = [d.encode() for d in (*path, step)]
    if rerun:
        st.rerun()


def drill_back(keep: int) -> None:
    """Undo the drill-down steps after the first ``keep``."""
    path = drill_path()[:keep]
    if path:
        st.query_params[DRILL_PARAM] = [d.encode() for d in path]
    else:
        st.query_params.pop(DRILL_PARAM, None)


def global_filters(
    first_day: dt.date,
    last_day: dt.date,
    segment_options: Mapping[str, Sequence[str]],
    *,
    default_days: int = 28,
    default_end: dt.date | None = None,
) -> View:
    """The date range, comparison and segment filters, in one row above the page, bound to
    the URL. ``segment_options``: the values each segment can take (segments without any are
    not shown). The default range is the ``default_days`` ending ``default_end`` (default: the
    last day; the funnels end theirs where conversion windows are complete)."""
    default = default_period(min(default_end or last_day, last_day), first_day, default_days)
    with st.container(horizontal=True, key="global_filters", vertical_alignment="bottom"):
        chosen = st.date_input(
            "Date range",
            value=(default.start, default.end),
            min_value=first_day,
            max_value=last_day,
            key="range",
            on_change=_filter_changed,
            args=("range",),
            bind="query-params",
            width=230,
        )
        compare = st.selectbox(
            "Compare with",
            options=list(COMPARE_MODES),
            format_func=COMPARE_MODES.get,
            key="compare",
            on_change=_filter_changed,
            args=("compare",),
            bind="query-params",
            width=200,
        )
        segments: dict[str, tuple[str, ...]] = {}
        for name, options in segment_options.items():
            if not options:
                continue
            picked = st.multiselect(
                SEGMENT_LABELS.get(name, name),
                options=list(options),
                key=name,
                on_change=_filter_changed,
                args=(name,),
                bind="query-params",
                placeholder="All",
                width=170,
            )
            segments[name] = tuple(picked)
    period = _as_period(chosen, default)
    return View(period, compare or "previous_period", segments, drill_path())


def _filter_changed(name: str) -> None:
    """Adoption: a `Filter Changed` event naming the filter (never its value)."""
    from apps.streamlit import usage

    usage.filter_changed(st.session_state.get("_usage_viewed"), [name])


def _as_period(chosen: object, default: Period) -> Period:
    """A range picker's value as a period; half a range (the user has picked only its start)
    means that day alone."""
    if isinstance(chosen, tuple | list):
        days = [d for d in chosen if isinstance(d, dt.date)]
        if len(days) == 2:
            return Period(min(days), max(days))
        if len(days) == 1:
            return Period(days[0], days[0])
        return default
    if isinstance(chosen, dt.date):
        return Period(chosen, chosen)
    return default
