"""Generated insights: the biggest movers of a period and what drove them, in plain words.

Deterministic arithmetic over query-layer results, no model: the same numbers always give the
same sentences, in the dashboards and in the reports.

- A **mover** is a metric whose value changed against the comparison period; movers are ranked
  by the size of the relative change (metrics with no comparable base are left out).
- **Attribution** splits an additive metric's change over the segments of a dimension: segment
  *s* contributed ``(current_s - previous_s) / (current - previous)`` of it. Only additive metrics
  (sums, counts) can be split this way; for an average or a ratio the segment shares of the
  change do not add up, so they are not attributed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analytics.charts import format_value

ADDITIVE = frozenset({"sum", "count"})


@dataclass(frozen=True)
class Contribution:
    dimension: str
    segment: str
    delta: float  # current - previous, in the metric's unit
    share: float  # of the total change (same sign as the total: positive)


@dataclass(frozen=True)
class Mover:
    metric: str
    label: str
    unit: str
    direction: str  # up | down | neutral: whether a rise is good news
    current: float
    previous: float
    drivers: tuple[Contribution, ...] = ()

    @property
    def change(self) -> float:
        return (self.current - self.previous) / abs(self.previous)

    @property
    def is_good(self) -> bool | None:
        if self.direction == "neutral" or self.current == self.previous:
            return None
        return (self.current > self.previous) == (self.direction == "up")

    def sentence(self, comparison: str = "the comparison period") -> str:
        """``Net revenue −8.0 % against the previous period ($9,200 vs $10,000); 70 % of the
        drop is Platform ios, 20 % is Channel paid_social.``"""
        direction = "rise" if self.current > self.previous else "drop"
        text = (
            f"{self.label} {self.change:+.1%} against {comparison} "
            f"({format_value(self.current, self.unit)} vs {format_value(self.previous, self.unit)})"
        )
        if self.drivers:
            parts = [
                f"{c.share:.0%} of the {direction} is {c.dimension} {c.segment}"
                if i == 0
                else f"{c.share:.0%} is {c.dimension} {c.segment}"
                for i, c in enumerate(self.drivers)
            ]
            text += "; " + ", ".join(parts)
        return text + "."


def attribute(
    current: Mapping[str, float],
    previous: Mapping[str, float],
    *,
    dimension: str,
    top: int = 2,
    min_share: float = 0.15,
) -> tuple[Contribution, ...]:
    """The segments of ``dimension`` that carried most of the change of an additive metric
    (segment → value in each period; a segment absent from one period counts as 0).

    Only segments that moved the same way as the total count, and each must carry at least
    ``min_share`` of it; at most ``top`` are returned, largest first."""
    total = sum(current.values()) - sum(previous.values())
    if total == 0:
        return ()
    out = []
    for segment in sorted(set(current) | set(previous)):
        delta = current.get(segment, 0.0) - previous.get(segment, 0.0)
        share = delta / total
        if share >= min_share:
            out.append(Contribution(dimension, segment, delta, share))
    out.sort(key=lambda c: (-c.share, c.segment))
    return tuple(out[:top])


def best_attribution(
    by_dimension: Mapping[str, tuple[Mapping[str, float], Mapping[str, float]]],
    *,
    top: int = 2,
    min_share: float = 0.15,
) -> tuple[Contribution, ...]:
    """Of several dimensions (name → (current by segment, previous by segment)), the one whose
    top segments explain the change most sharply (largest leading share; ties by name)."""
    best: tuple[Contribution, ...] = ()
    for dimension in sorted(by_dimension):
        current, previous = by_dimension[dimension]
        found = attribute(current, previous, dimension=dimension, top=top, min_share=min_share)
        if found and (not best or found[0].share > best[0].share):
            best = found
    return best


def rank_movers(
    candidates: Sequence[Mover], *, limit: int = 3, min_change: float = 0.02
) -> list[Mover]:
    """The ``limit`` largest relative changes of at least ``min_change`` (ties by name)."""
    moved = [m for m in candidates if m.previous != 0 and abs(m.change) >= min_change]
    moved.sort(key=lambda m: (-abs(m.change), m.metric))
    return moved[:limit]
