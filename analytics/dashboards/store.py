"""User-built dashboards on the app metadata database (:mod:`core.metadata`: SQLite by
default, PostgreSQL with ``PULSE_METADATA_URL``; the same code).

Four tables: ``dashboards`` (title, owner, version), ``dashboard_widgets`` (one row per widget,
in order), ``dashboard_shares`` (dashboard → a role or a username, view or edit) and
``dashboard_preferences`` (per user: default dashboard, last date range).

Who may do what: the owner and admins edit; a share gives view or edit to a username or to
everyone of a role; editing also needs a role that may edit dashboards
(:data:`core.roles.ACTIONS`), so a viewer shared "edit" still only views. A save carries the
version it was opened at: when someone saved in between, it is refused with who and when, never
silently overwritten (optimistic concurrency).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Engine

from analytics.catalogue import MetricInfo
from analytics.dashboards.model import (
    Dashboard,
    DashboardError,
    DateRange,
    Widget,
    check_title,
    check_widgets,
    parse_date_range,
    with_widget_ids,
)
from core import accounts
from core.metadata import METADATA
from core.roles import ROLES, Principal, check_role

Access = Literal["owner", "edit", "view"]
PERMISSIONS = ("view", "edit")
GRANTEES = ("role", "user")

dashboards = sa.Table(
    "dashboards",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("template", sa.String(200)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.String(128)),
    sa.Index("ix_dashboards_owner", "owner"),
)

dashboard_widgets = sa.Table(
    "dashboard_widgets",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "dashboard_id",
        sa.String(32),
        sa.ForeignKey("dashboards.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("width", sa.String(16), nullable=False),
    sa.Column("metric", sa.String(128), nullable=False),
    sa.Column("chart", sa.String(32), nullable=False),
    sa.Column("breakdown", sa.String(128)),
    sa.Column("title", sa.String(200)),
    sa.Column("filters", sa.Text, nullable=False, server_default="{}"),  # JSON
    sa.Index("ix_dashboard_widgets_dashboard", "dashboard_id", "position"),
)

dashboard_shares = sa.Table(
    "dashboard_shares",
    METADATA,
    sa.Column(
        "dashboard_id",
        sa.String(32),
        sa.ForeignKey("dashboards.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("grantee_kind", sa.String(8), primary_key=True),  # role | user
    sa.Column("grantee", sa.String(128), primary_key=True),
    sa.Column("permission", sa.String(8), nullable=False),  # view | edit
    sa.Column("shared_by", sa.String(128), nullable=False),
    sa.Column("shared_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("grantee_kind IN ('role', 'user')", name="ck_dashboard_shares_kind"),
    sa.CheckConstraint("permission IN ('view', 'edit')", name="ck_dashboard_shares_permission"),
)

dashboard_preferences = sa.Table(
    "dashboard_preferences",
    METADATA,
    sa.Column("username", sa.String(128), primary_key=True),
    sa.Column("default_dashboard", sa.String(32)),
    sa.Column("last_date_range", sa.String(200)),  # JSON of a DateRange
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


class StaleDashboard(DashboardError):
    """Someone saved the dashboard after it was opened: reload before saving."""


class NotAllowed(DashboardError):
    """The person may not see or change this dashboard."""


class NotFound(DashboardError):
    """No dashboard with that id."""


@dataclass(frozen=True)
class Share:
    grantee_kind: str  # role | user
    grantee: str
    permission: str  # view | edit
    shared_by: str

    def label(self) -> str:
        who = (
            f"everyone with the {self.grantee} role"
            if self.grantee_kind == "role"
            else self.grantee
        )
        return f"{who} ({'can edit' if self.permission == 'edit' else 'can view'})"


@dataclass(frozen=True)
class Listed:
    """A dashboard in someone's list, with what they may do with it."""

    dashboard: Dashboard
    access: Access


@dataclass(frozen=True)
class Preferences:
    username: str
    default_dashboard: str | None = None
    last_date_range: DateRange | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def _as_principal(who: Principal | Mapping[str, str]) -> Principal:
    if isinstance(who, Principal):
        return who
    return Principal(str(who["name"]), check_role(str(who["role"])))


class DashboardStore:
    """Dashboards, shares and preferences over one engine, checked against ``catalogue``
    (metric name → :class:`MetricInfo`, e.g. ``{m.name: m for m in ql.catalogue()}``)."""

    def __init__(self, engine: Engine, catalogue: Mapping[str, MetricInfo]) -> None:
        self.engine = engine
        self.catalogue = catalogue
        METADATA.create_all(
            engine, tables=[dashboards, dashboard_widgets, dashboard_shares, dashboard_preferences]
        )

    # ---- reading -----------------------------------------------------------------------------
    def get(self, dashboard_id: str, viewer: Principal | Mapping[str, str]) -> Dashboard:
        """The dashboard, if ``viewer`` may see it (NotFound / NotAllowed otherwise)."""
        with self.engine.connect() as conn:
            dashboard = self._load(conn, dashboard_id)
            if self._access(conn, dashboard, _as_principal(viewer)) is None:
                raise NotAllowed(
                    f"“{dashboard.title}” is not shared with you: ask its owner "
                    f"({dashboard.owner}) to share it"
                )
        return dashboard

    def access(self, dashboard_id: str, viewer: Principal | Mapping[str, str]) -> Access | None:
        """What ``viewer`` may do with the dashboard: owner, edit, view or None."""
        with self.engine.connect() as conn:
            return self._access(conn, self._load(conn, dashboard_id), _as_principal(viewer))

    def visible_to(self, viewer: Principal | Mapping[str, str]) -> list[Listed]:
        """Dashboards ``viewer`` owns, then those shared with them or their role (admins: all),
        each by title."""
        who = _as_principal(viewer)
        with self.engine.connect() as conn:
            if who.role == "admin":
                ids = conn.execute(sa.select(dashboards.c.id)).scalars().all()
            else:
                shared = sa.select(dashboard_shares.c.dashboard_id).where(
                    sa.or_(
                        sa.and_(
                            dashboard_shares.c.grantee_kind == "user",
                            dashboard_shares.c.grantee == who.name,
                        ),
                        sa.and_(
                            dashboard_shares.c.grantee_kind == "role",
                            dashboard_shares.c.grantee.in_(_roles_up_to(who.role)),
                        ),
                    )
                )
                ids = (
                    conn.execute(
                        sa.select(dashboards.c.id).where(
                            sa.or_(dashboards.c.owner == who.name, dashboards.c.id.in_(shared))
                        )
                    )
                    .scalars()
                    .all()
                )
            listed = []
            for dashboard_id in ids:
                dashboard = self._load(conn, dashboard_id)
                access = self._access(conn, dashboard, who)
                if access is not None:
                    listed.append(Listed(dashboard, access))
        order = {"owner": 0, "edit": 1, "view": 1}
        return sorted(listed, key=lambda x: (order[x.access], x.dashboard.title.lower()))

    def shares(self, dashboard_id: str) -> list[Share]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(dashboard_shares)
                .where(dashboard_shares.c.dashboard_id == dashboard_id)
                .order_by(dashboard_shares.c.grantee_kind, dashboard_shares.c.grantee)
            ).all()
        return [Share(r.grantee_kind, r.grantee, r.permission, r.shared_by) for r in rows]

    # ---- writing -----------------------------------------------------------------------------
    def create(
        self,
        owner: Principal | Mapping[str, str],
        title: str,
        widgets: Sequence[Widget | Mapping[str, Any]] = (),
        *,
        description: str = "",
        template: str | None = None,
    ) -> Dashboard:
        """A new dashboard owned by ``owner`` (who must be allowed to edit dashboards)."""
        who = _require_editor(owner)
        checked = with_widget_ids(check_widgets(widgets, self.catalogue), _new_id)
        now = _now()
        dashboard = Dashboard(
            id=_new_id(),
            title=check_title(title),
            owner=who.name,
            widgets=checked,
            description=str(description or "").strip(),
            version=1,
            created_at=now,
            updated_at=now,
            updated_by=who.name,
            template=template,
        )
        with self.engine.begin() as conn:
            conn.execute(
                dashboards.insert().values(
                    id=dashboard.id,
                    title=dashboard.title,
                    description=dashboard.description,
                    owner=dashboard.owner,
                    version=1,
                    template=template,
                    created_at=now,
                    updated_at=now,
                    updated_by=who.name,
                )
            )
            self._write_widgets(conn, dashboard.id, checked)
        return dashboard

    def save(
        self,
        dashboard: Dashboard,
        by: Principal | Mapping[str, str],
        *,
        title: str | None = None,
        widgets: Sequence[Widget | Mapping[str, Any]] | None = None,
        description: str | None = None,
    ) -> Dashboard:
        """Store the new title/widgets of ``dashboard`` (opened at ``dashboard.version``) and
        return it at the next version. Refused (StaleDashboard) when someone saved since."""
        who = _require_editor(by)
        new_title = check_title(title if title is not None else dashboard.title)
        checked = with_widget_ids(
            check_widgets(widgets if widgets is not None else dashboard.widgets, self.catalogue),
            _new_id,
        )
        new_description = dashboard.description if description is None else description.strip()
        now = _now()
        with self.engine.begin() as conn:
            stored = self._load(conn, dashboard.id)
            if self._access(conn, stored, who) not in ("owner", "edit"):
                raise NotAllowed(
                    f"you can view but not edit “{stored.title}”: ask its owner "
                    f"({stored.owner}) for edit access, or save a copy"
                )
            # The version check and the bump are one UPDATE: two saves racing cannot both win.
            updated = conn.execute(
                dashboards.update()
                .where(dashboards.c.id == dashboard.id, dashboards.c.version == dashboard.version)
                .values(
                    title=new_title,
                    description=new_description,
                    version=dashboard.version + 1,
                    updated_at=now,
                    updated_by=who.name,
                )
            ).rowcount
            if updated != 1:
                raise StaleDashboard(
                    f"“{stored.title}” was saved by {stored.updated_by or stored.owner} at "
                    f"{stored.updated_at:%H:%M UTC} (version {stored.version}) after you opened "
                    f"it (version {dashboard.version}): reload it to see their changes, then "
                    "make yours again"
                )
            conn.execute(
                dashboard_widgets.delete().where(dashboard_widgets.c.dashboard_id == dashboard.id)
            )
            self._write_widgets(conn, dashboard.id, checked)
        return replace(
            stored,
            title=new_title,
            description=new_description,
            widgets=checked,
            version=dashboard.version + 1,
            updated_at=now,
            updated_by=who.name,
        )

    def copy(
        self, dashboard_id: str, by: Principal | Mapping[str, str], title: str | None = None
    ) -> Dashboard:
        """A copy owned by ``by`` of a dashboard they can see ("Save a copy")."""
        source = self.get(dashboard_id, by)
        return self.create(
            by,
            title or f"{source.title} (copy)",
            [replace(w, id="") for w in source.widgets],
            description=source.description,
            template=source.template,
        )

    def delete(self, dashboard_id: str, by: Principal | Mapping[str, str]) -> None:
        """Delete a dashboard: its owner or an admin only."""
        who = _as_principal(by)
        with self.engine.begin() as conn:
            stored = self._load(conn, dashboard_id)
            if self._access(conn, stored, who) != "owner" and who.role != "admin":
                raise NotAllowed(f"only its owner ({stored.owner}) or an admin can delete it")
            for table in (dashboard_widgets, dashboard_shares):
                conn.execute(table.delete().where(table.c.dashboard_id == dashboard_id))
            conn.execute(
                dashboard_preferences.update()
                .where(dashboard_preferences.c.default_dashboard == dashboard_id)
                .values(default_dashboard=None)
            )
            conn.execute(dashboards.delete().where(dashboards.c.id == dashboard_id))

    def share(
        self,
        dashboard_id: str,
        by: Principal | Mapping[str, str],
        *,
        role: str | None = None,
        user: str | None = None,
        permission: str = "view",
    ) -> Share:
        """Share with everyone of ``role`` or with one ``user`` (view or edit). Sharing again
        changes the permission. Needs edit access to the dashboard."""
        who = _require_editor(by)
        if (role is None) == (user is None):
            raise DashboardError("share with either a role or a username, not both or neither")
        if permission not in PERMISSIONS:
            raise DashboardError(f"permission is view or edit, not {permission!r}")
        if role is not None:
            if role not in ROLES:
                raise DashboardError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
            kind, grantee = "role", role
        else:
            if not str(user).strip():
                raise DashboardError("type the username to share with")
            known = accounts.get_user(self.engine, str(user))
            if known is None:
                raise DashboardError(
                    f"there is no user {str(user).strip()!r}: share with one of the names "
                    "`pulse users list` (or the admin's Users page) shows"
                )
            kind, grantee = "user", known.username
        with self.engine.begin() as conn:
            stored = self._load(conn, dashboard_id)
            if self._access(conn, stored, who) not in ("owner", "edit"):
                raise NotAllowed(f"you need edit access to “{stored.title}” to share it")
            if kind == "user" and grantee == stored.owner:
                raise DashboardError(f"{grantee} owns this dashboard already")
            key = (
                dashboard_shares.c.dashboard_id == dashboard_id,
                dashboard_shares.c.grantee_kind == kind,
                dashboard_shares.c.grantee == grantee,
            )
            conn.execute(dashboard_shares.delete().where(*key))
            conn.execute(
                dashboard_shares.insert().values(
                    dashboard_id=dashboard_id,
                    grantee_kind=kind,
                    grantee=grantee,
                    permission=permission,
                    shared_by=who.name,
                    shared_at=_now(),
                )
            )
        return Share(kind, grantee, permission, who.name)

    def unshare(
        self, dashboard_id: str, by: Principal | Mapping[str, str], kind: str, grantee: str
    ) -> None:
        who = _require_editor(by)
        with self.engine.begin() as conn:
            stored = self._load(conn, dashboard_id)
            if self._access(conn, stored, who) not in ("owner", "edit"):
                raise NotAllowed(f"you need edit access to “{stored.title}” to change its sharing")
            conn.execute(
                dashboard_shares.delete().where(
                    dashboard_shares.c.dashboard_id == dashboard_id,
                    dashboard_shares.c.grantee_kind == kind,
                    dashboard_shares.c.grantee == grantee,
                )
            )

    # ---- preferences -------------------------------------------------------------------------
    def preferences(self, username: str) -> Preferences:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(dashboard_preferences).where(dashboard_preferences.c.username == username)
            ).first()
        if row is None:
            return Preferences(username)
        last = json.loads(row.last_date_range) if row.last_date_range else None
        return Preferences(username, row.default_dashboard, parse_date_range(last))

    def set_preferences(
        self,
        username: str,
        *,
        default_dashboard: str | Literal["keep"] | None = "keep",
        last_date_range: DateRange | Mapping[str, Any] | str | Literal["keep"] | None = "keep",
    ) -> Preferences:
        """Change some of ``username``'s preferences ("keep": leave as is)."""
        current = self.preferences(username)
        default = current.default_dashboard if default_dashboard == "keep" else default_dashboard
        if last_date_range == "keep":
            last = current.last_date_range
        else:
            last = parse_date_range(last_date_range, "last date range")
        values = {
            "default_dashboard": default,
            "last_date_range": json.dumps(last.to_json()) if last else None,
            "updated_at": _now(),
        }
        with self.engine.begin() as conn:
            if default is not None:
                self._load(conn, default)  # NotFound for a bad id
            done = conn.execute(
                dashboard_preferences.update()
                .where(dashboard_preferences.c.username == username)
                .values(**values)
            ).rowcount
            if not done:
                conn.execute(dashboard_preferences.insert().values(username=username, **values))
        return Preferences(username, default, last)

    # ---- internals ---------------------------------------------------------------------------
    def _load(self, conn: sa.Connection, dashboard_id: str) -> Dashboard:
        row = conn.execute(sa.select(dashboards).where(dashboards.c.id == dashboard_id)).first()
        if row is None:
            raise NotFound(f"no dashboard {dashboard_id!r}: it may have been deleted")
        rows = conn.execute(
            sa.select(dashboard_widgets)
            .where(dashboard_widgets.c.dashboard_id == dashboard_id)
            .order_by(dashboard_widgets.c.position)
        ).all()
        widgets = []
        for w in rows:
            filters = json.loads(w.filters or "{}")
            widgets.append(
                Widget(
                    id=w.id,
                    metric=w.metric,
                    chart=w.chart,
                    width=w.width,
                    breakdown=w.breakdown,
                    title=w.title,
                    segments={k: tuple(v) for k, v in (filters.get("segments") or {}).items()},
                    date_range=parse_date_range(filters.get("date_range")),
                )
            )
        return Dashboard(
            id=row.id,
            title=row.title,
            owner=row.owner,
            widgets=tuple(widgets),
            description=row.description or "",
            version=row.version,
            created_at=_utc(row.created_at),
            updated_at=_utc(row.updated_at),
            updated_by=row.updated_by,
            template=row.template,
        )

    def _access(self, conn: sa.Connection, dashboard: Dashboard, who: Principal) -> Access | None:
        if dashboard.owner == who.name:
            return "owner"
        if who.role == "admin":
            return "edit"
        rows = conn.execute(
            sa.select(dashboard_shares.c.permission).where(
                dashboard_shares.c.dashboard_id == dashboard.id,
                sa.or_(
                    sa.and_(
                        dashboard_shares.c.grantee_kind == "user",
                        dashboard_shares.c.grantee == who.name,
                    ),
                    sa.and_(
                        dashboard_shares.c.grantee_kind == "role",
                        dashboard_shares.c.grantee.in_(_roles_up_to(who.role)),
                    ),
                ),
            )
        ).scalars()
        permissions = set(rows)
        if not permissions:
            return None
        # An edit share only lets in a role that may edit dashboards at all.
        if "edit" in permissions and who.can("edit_dashboards"):
            return "edit"
        return "view"

    @staticmethod
    def _write_widgets(conn: sa.Connection, dashboard_id: str, widgets: Sequence[Widget]) -> None:
        if not widgets:
            return
        conn.execute(
            dashboard_widgets.insert(),
            [
                {
                    "id": w.id,
                    "dashboard_id": dashboard_id,
                    "position": i,
                    "width": w.width,
                    "metric": w.metric,
                    "chart": w.chart,
                    "breakdown": w.breakdown,
                    "title": w.title,
                    "filters": json.dumps(w.filters_json(), sort_keys=True),
                }
                for i, w in enumerate(widgets)
            ],
        )


def _roles_up_to(role: str) -> tuple[str, ...]:
    """A share with a role reaches that role and every role above it (a dashboard shared with
    analysts is seen by admins too)."""
    return ROLES[: ROLES.index(role) + 1]


def _require_editor(who: Principal | Mapping[str, str]) -> Principal:
    from core.roles import refusal

    principal = _as_principal(who)
    if not principal.can("edit_dashboards"):
        raise NotAllowed(refusal(principal.role, "edit_dashboards"))
    return principal


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes: they were stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value
