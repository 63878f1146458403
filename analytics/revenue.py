"""Revenue analytics: the MRR bridge of a month (starting MRR through its movements to the ending
MRR), checked to add up, for the dashboards and the reports alike.

A month's row of ``rev_mrr_movements`` classifies every subscriber's change between the two month
ends (new, expansion, reactivated, contraction, churned), so

    starting + new + expansion + reactivated − contraction − churned = ending

holds by construction; the mart rounds each column to 4 decimals, so the two sides may differ by
a fraction of a cent. A larger difference means a broken build: :class:`MrrBridge` says so rather
than drawing a waterfall that silently ends somewhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# (label, rev_mrr_movements column, sign) of the movements between the month ends.
MRR_MOVEMENTS: tuple[tuple[str, str, int], ...] = (
    ("New", "new_mrr", 1),
    ("Expansion", "expansion_mrr", 1),
    ("Reactivated", "reactivated_mrr", 1),
    ("Contraction", "contraction_mrr", -1),
    ("Churned", "churned_mrr", -1),
)
# The subscribers behind each step (expansion and contraction keep the count).
SUBSCRIBER_COLUMNS: dict[str, str] = {
    "Starting MRR": "starting_subscribers",
    "New": "new_subscribers",
    "Expansion": "expanded_subscribers",
    "Reactivated": "reactivated_subscribers",
    "Contraction": "contracted_subscribers",
    "Churned": "churned_subscribers",
    "Ending MRR": "ending_subscribers",
}
TOLERANCE = 0.01  # USD


@dataclass(frozen=True)
class MrrBridge:
    """One month's MRR bridge: the waterfall's steps (signed) and whether they add up."""

    steps: tuple[tuple[str, float], ...]  # ("Starting MRR", s), ("New", +n), ..., ("Ending MRR", e)
    subscribers: tuple[tuple[str, int | None], ...]
    computed_ending: float  # starting + the signed movements
    ending: float  # as the mart has it

    @property
    def difference(self) -> float:
        return self.ending - self.computed_ending

    @property
    def adds_up(self) -> bool:
        return abs(self.difference) <= TOLERANCE

    def equation(self, money: Any = None) -> str:
        """``$819.55 starting + $379.76 new + ... − $224.87 churned = $974.44``."""
        fmt = money or (lambda v: f"{'−' if v < 0 else ''}${abs(v):,.2f}")
        start = self.steps[0][1]
        terms = " ".join(
            f"{'−' if sign < 0 else '+'} {fmt(abs(value))} {label.lower()}"
            for (label, value), (_, _, sign) in zip(self.steps[1:-1], MRR_MOVEMENTS, strict=True)
        )
        return f"{fmt(start)} starting {terms} = {fmt(self.computed_ending)}"


def mrr_bridge(row: Mapping[str, Any]) -> MrrBridge:
    """The bridge of one ``rev_mrr_movements`` row (missing movement columns count as zero)."""
    missing = [c for c in ("starting_mrr", "ending_mrr") if c not in row]
    if missing:
        raise ValueError(f"an MRR movements row needs {', '.join(missing)}")
    start = float(row["starting_mrr"] or 0.0)
    moves = [
        (label, float(sign * (row.get(column) or 0.0)) or 0.0)  # no "−$0.00"
        for label, column, sign in MRR_MOVEMENTS
    ]
    computed = start + sum(value for _, value in moves)
    ending = float(row["ending_mrr"] or 0.0)
    steps = (("Starting MRR", start), *moves, ("Ending MRR", ending))
    subscribers = tuple(
        (label, None if row.get(column) is None else int(row[column]))
        for label, column in SUBSCRIBER_COLUMNS.items()
    )
    return MrrBridge(steps, subscribers, round(computed, 6), ending)
