"""Who may do what in Pulse's UIs and APIs: three roles, ordered (each can do what the one
before it can). Viewers read; analysts also edit annotations, dashboards and alerts; admins also
manage users. One table, read by the dashboards' sign-in, the BI API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["viewer", "analyst", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "analyst", "admin")

# The least role each action needs.
ACTIONS: dict[str, Role] = {
    "read": "viewer",
    "edit_annotations": "analyst",
    "edit_dashboards": "analyst",
    "edit_alerts": "analyst",
    "manage_users": "admin",
}


@dataclass(frozen=True)
class Principal:
    """A signed-in person (or service) and their role."""

    name: str
    role: Role

    def can(self, action: str) -> bool:
        return can(self.role, action)


def check_role(role: str) -> Role:
    """``role`` if it is one of :data:`ROLES`, else a ValueError that lists them."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


def can(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action`` (one of :data:`ACTIONS`)."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    return ROLES.index(check_role(role)) >= ROLES.index(ACTIONS[action])


def refusal(role: str, action: str) -> str:
    """The message shown when ``role`` may not do ``action``."""
    needed = ACTIONS[action]
    what = action.removeprefix("edit_").replace("_", " ")
    verb = "manage" if action.startswith("manage") else "edit"
    if action.startswith("edit_"):
        return (
            f"Your role ({role}) can view but not {verb} {what}: ask an admin for the "
            f"{needed} role."
        )
    return f"Your role ({role}) cannot {action.replace('_', ' ')}: it needs the {needed} role."
