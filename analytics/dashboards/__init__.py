"""Dashboards people build themselves: widgets over the metric catalogue, kept in the app
metadata database, shared with a role or a person, started from templates.

- :mod:`~analytics.dashboards.model`: dashboards, widgets, date ranges, the checks against the
  catalogue (pure).
- :mod:`~analytics.dashboards.store`: the tables and :class:`DashboardStore` (SQLite or
  PostgreSQL through :mod:`core.metadata`): save with optimistic concurrency, share, preferences.
- :mod:`~analytics.dashboards.templates`: the YAML templates (``templates.yaml``).

The Dashboards page (``apps/streamlit/views/dashboards.py``) draws them through the query layer.
"""

from analytics.dashboards.model import (
    CHARTS,
    RELATIVE_RANGES,
    WIDTHS,
    Dashboard,
    DashboardError,
    DateRange,
    Widget,
    breakdown_label,
    breakdowns_for,
    chart_types_for,
    check_widget,
    parse_date_range,
)
from analytics.dashboards.store import (
    DashboardStore,
    Listed,
    NotAllowed,
    NotFound,
    Preferences,
    Share,
    StaleDashboard,
)
from analytics.dashboards.templates import Template, load_templates

__all__ = [
    "CHARTS",
    "RELATIVE_RANGES",
    "WIDTHS",
    "Dashboard",
    "DashboardError",
    "DashboardStore",
    "DateRange",
    "Listed",
    "NotAllowed",
    "NotFound",
    "Preferences",
    "Share",
    "StaleDashboard",
    "Template",
    "Widget",
    "breakdown_label",
    "breakdowns_for",
    "chart_types_for",
    "check_widget",
    "load_templates",
    "parse_date_range",
]
