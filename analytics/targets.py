"""KPI targets: what each headline metric should reach, and whether it is on track.

Targets are business settings, not metric definitions: they live in a YAML file
(``analytics/targets.yaml`` by default, ``PULSE_TARGETS_FILE`` to use another) that the
dashboards and reports read. A bad file fails at load with a message naming the entry and what
to fix.

State against target, for a metric whose good direction is up (down: mirrored):

- **on track**: the value reaches the target;
- **at risk**: within ``tolerance`` of it (default 10 %: 90 % of a target of "more");
- **off**: further away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

DEFAULT_FILE = Path(__file__).with_name("targets.yaml")
State = Literal["on_track", "at_risk", "off"]
STATE_LABELS: dict[str, str] = {"on_track": "On track", "at_risk": "At risk", "off": "Off target"}


class TargetsError(ValueError):
    """The targets file is missing, not YAML, or has an invalid entry."""


@dataclass(frozen=True)
class Target:
    metric: str
    value: float
    direction: Literal["up", "down"]  # up: the value should be at least the target
    tolerance: float = 0.10
    note: str = ""

    def state(self, actual: float | None) -> State | None:
        """Where ``actual`` stands against the target (None without a value)."""
        if actual is None:
            return None
        if self.direction == "up":
            if actual >= self.value:
                return "on_track"
            return "at_risk" if actual >= self.value * (1 - self.tolerance) else "off"
        if actual <= self.value:
            return "on_track"
        return "at_risk" if actual <= self.value * (1 + self.tolerance) else "off"


def parse_targets(text: str, source: str = "<targets>") -> dict[str, Target]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TargetsError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("targets"), Mapping):
        raise TargetsError(f"{source}: expected a mapping with a 'targets:' section")
    out: dict[str, Target] = {}
    for metric, entry in document["targets"].items():
        where = f"{source}: targets.{metric}"
        if not isinstance(entry, Mapping):
            raise TargetsError(f"{where} must be a mapping with 'value' and 'direction'")
        unknown = set(entry) - {"value", "direction", "tolerance", "note"}
        if unknown:
            raise TargetsError(f"{where}: unknown key(s) {sorted(unknown)}")
        value, direction = entry.get("value"), entry.get("direction")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TargetsError(f"{where}.value must be a number (got {value!r})")
        if direction not in ("up", "down"):
            raise TargetsError(f"{where}.direction must be 'up' or 'down' (got {direction!r})")
        tolerance = entry.get("tolerance", 0.10)
        if not isinstance(tolerance, int | float) or not 0 <= tolerance < 1:
            raise TargetsError(f"{where}.tolerance must be a number in [0, 1) (got {tolerance!r})")
        out[str(metric)] = Target(
            str(metric), float(value), direction, float(tolerance), str(entry.get("note", ""))
        )
    return out


def load_targets(path: Path | None = None) -> dict[str, Target]:
    """The targets of ``path`` (default: the packaged file), by metric name."""
    path = Path(path or DEFAULT_FILE)
    if not path.is_file():
        raise TargetsError(f"targets file {path} does not exist (set PULSE_TARGETS_FILE)")
    return parse_targets(path.read_text(), str(path))
