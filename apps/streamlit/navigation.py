"""The dashboards' pages, as data: the app's navigation, the browser smoke tests, the screenshots
command and the page-load benchmark all read this one list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.roles import Principal

VIEWS = Path(__file__).parent / "views"


@dataclass(frozen=True)
class PageSpec:
    file: str  # under views/
    title: str
    icon: str
    url_path: str
    section: str
    default: bool = False
    # The least action (core.roles.ACTIONS) needed to see the page; None: anyone signed in.
    # A page a role cannot use is left out of its navigation.
    action: str | None = None

    @property
    def path(self) -> Path:
        return VIEWS / self.file

    def visible_to(self, user: Principal) -> bool:
        return self.action is None or user.can(self.action)

    @property
    def route(self) -> str:
        """Its path in a URL: the default page lives at the root (Streamlit ignores its
        url_path there and answers /<url_path> with "page not found")."""
        return "" if self.default else self.url_path


PAGES: tuple[PageSpec, ...] = (
    PageSpec("executive.py", "Executive", ":material/monitoring:", "executive", "Business", True),
    PageSpec("revenue.py", "Revenue", ":material/payments:", "revenue", "Business"),
    PageSpec("marketplace.py", "Marketplace", ":material/storefront:", "marketplace", "Business"),
    PageSpec(
        "dashboards.py", "Dashboards", ":material/dashboard_customize:", "dashboards", "Business"
    ),
    PageSpec("engagement.py", "Engagement", ":material/touch_app:", "engagement", "Product"),
    PageSpec("retention.py", "Retention", ":material/event_repeat:", "retention", "Product"),
    PageSpec("funnels.py", "Funnels", ":material/filter_alt:", "funnels", "Product"),
    PageSpec("system.py", "System", ":material/dns:", "system", "Platform"),
    PageSpec("quality.py", "Data quality", ":material/verified:", "quality", "Platform"),
    PageSpec("live.py", "Live", ":material/sensors:", "live", "Platform"),
    PageSpec("metrics.py", "Metric definitions", ":material/menu_book:", "metrics", "Reference"),
    PageSpec("gallery.py", "Chart gallery", ":material/palette:", "gallery", "Reference"),
    PageSpec("users.py", "Users", ":material/group:", "users", "Admin", action="manage_users"),
    PageSpec(
        "adoption.py", "Adoption", ":material/insights:", "adoption", "Admin", action="manage_users"
    ),
)
# Sections in the order of the top bar. The AI-monitoring, experiments and predictive pages join
# "Models" with the issues that build those models.
SECTIONS = ("Business", "Product", "Platform", "Models", "Reference", "Admin")


def pages_for(user: Principal) -> tuple[PageSpec, ...]:
    """The pages ``user``'s role may open, in navigation order."""
    return tuple(p for p in PAGES if p.visible_to(user))
