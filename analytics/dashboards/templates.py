"""Dashboard templates: ready-made dashboards in a YAML file (the bundled
``analytics/dashboards/templates.yaml``, or ``PULSE_DASHBOARD_TEMPLATES_FILE``). Every widget
is checked against the metric catalogue at load, so a template naming a metric that was renamed
fails with the template and the widget named, not on a user's screen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from analytics.catalogue import MetricInfo
from analytics.dashboards.model import DashboardError, Widget, check_title, check_widgets

DEFAULT_FILE = Path(__file__).with_name("templates.yaml")


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    widgets: tuple[Widget, ...]


def load_templates(
    path: Path | str | None, catalogue: Mapping[str, MetricInfo]
) -> dict[str, Template]:
    """The templates of ``path`` (None: the bundled file) by name, every widget valid."""
    path = Path(path) if path else DEFAULT_FILE
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise DashboardError(
            f"no dashboard templates file at {path} (PULSE_DASHBOARD_TEMPLATES_FILE)"
        ) from None
    except yaml.YAMLError as exc:
        raise DashboardError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("templates"), list):
        raise DashboardError(f"{path}: expected `version: 1` and a `templates:` list")
    found: dict[str, Template] = {}
    for i, entry in enumerate(data["templates"], start=1):
        label = f"{path.name}: template {i}"
        if not isinstance(entry, Mapping):
            raise DashboardError(f"{label} is not a mapping of name, title, widgets")
        name = str(entry.get("name") or "").strip()
        label = f"{path.name}: template {name or i!r}"
        if not name:
            raise DashboardError(f"{label}: needs a `name` (a short identifier)")
        if name in found:
            raise DashboardError(f"{label}: the name is used twice")
        widgets = entry.get("widgets")
        if not isinstance(widgets, list) or not widgets:
            raise DashboardError(f"{label}: needs a non-empty `widgets:` list")
        try:
            title = check_title(entry.get("title"))
            checked = check_widgets(widgets, catalogue)
        except DashboardError as exc:
            raise DashboardError(f"{label}: {exc}") from None
        found[name] = Template(name, title, str(entry.get("description") or ""), checked)
    return found
