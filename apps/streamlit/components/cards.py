"""KPI cards: the value for the period, its change against the comparison period (green when the
change is good news for this metric, whichever its sign), the state against target, a sparkline
of the period, and a link to the metric's definition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from analytics.charts import format_change, format_value
from analytics.targets import STATE_LABELS, Target

STATE_COLORS = {"on_track": "green", "at_risk": "orange", "off": "red"}
# The in-app glossary page (apps/streamlit/views/metrics.py) shows a metric's docs/metrics.md entry.
GLOSSARY_URL = "/metrics?metric="


@dataclass(frozen=True)
class Card:
    """What one card shows (computed by the page from one query-layer result)."""

    name: str
    label: str
    value: float | None
    unit: str
    direction: str  # up | down | neutral
    change: float | None = None
    previous: float | None = None
    target: Target | None = None
    trend: Sequence[float] = ()
    docs: str = ""
    live_value: float | None = None

    @property
    def state(self) -> str | None:
        return self.target.state(self.value) if self.target else None

    @property
    def delta_color(self) -> str:
        """st.metric's colouring: 'normal' (up is green), 'inverse' (down is green), 'off'
        (a neutral metric, or no change)."""
        if self.change == 0:
            return "off"
        return {"up": "normal", "down": "inverse"}.get(self.direction, "off")

    def help_text(self) -> str:
        lines = []
        if self.previous is not None:
            lines.append(f"Comparison period: {format_value(self.previous, self.unit)}.")
        if self.target is not None:
            sign = "≥" if self.target.direction == "up" else "≤"
            lines.append(f"Target {sign} {format_value(self.target.value, self.unit)}.")
        if self.live_value is not None:
            lines.append(f"Today so far (live): {format_value(self.live_value, self.unit)}.")
        lines.append(
            f"[How it is defined]({GLOSSARY_URL}{self.name}) ({self.docs or 'docs/metrics.md'})."
        )
        return "  \n".join(lines)


def kpi_card(card: Card, *, key: str, on_drill: Any | None = None) -> None:
    """One card in a bordered container; ``on_drill``: a callable run when "Break down" is
    clicked (opens the card's breakdown)."""
    with st.container(border=True, key=f"card_{key}"):
        st.metric(
            card.label,
            format_value(card.value, card.unit, compact=True),
            delta=None if card.change is None else format_change(card.change),
            delta_color=card.delta_color,  # type: ignore[arg-type]
            help=card.help_text() or None,
            chart_data=list(card.trend) or None,
            chart_type="area",
        )
        state = card.state
        with st.container(horizontal=True, vertical_alignment="center"):
            if state is not None:
                st.badge(STATE_LABELS[state], color=STATE_COLORS[state])  # type: ignore[arg-type]
            elif card.target is None:
                st.caption("No target set")
            if on_drill is not None and st.button(
                "Break down", key=f"drill_{key}", type="tertiary", icon=":material/zoom_in:"
            ):
                on_drill()


def card_for(
    result: Any,
    name: str,
    *,
    target: Target | None = None,
    trend: Sequence[float] = (),
    label: str | None = None,
    comparable: bool = True,
) -> Card:
    """The card of metric ``name`` from a query-layer total (a MetricsResult without grain or
    grouping, with ``previous`` when a comparison was asked). ``comparable=False`` drops the
    change (e.g. a monthly metric whose comparison months overlap the current ones)."""
    from analytics.charts import unit_of

    info = result.info(name)
    previous = result.previous.value(name) if result.previous is not None and comparable else None
    return Card(
        name=name,
        label=label or info.label,
        value=result.value(name),
        unit=unit_of(info.unit, info.format),
        direction=info.direction,
        change=result.change(name) if comparable else None,
        previous=previous,
        target=target,
        trend=points if len(points := [v for v in trend if v is not None]) > 1 else (),
        docs=info.docs,
        live_value=result.live_value(name),
    )
