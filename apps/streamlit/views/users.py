"""Users (admin): who may sign in to the dashboards and with which role. The same operations as
``pulse users ...``, through :mod:`core.accounts`; every change re-checks the admin's role."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.streamlit.auth import current_user, require
from apps.streamlit.components.layout import data_table, page_header
from apps.streamlit.sign_in import metadata_engine
from core import accounts
from core.roles import ROLES

ROLE_HELP = (
    "viewer: reads every page · analyst: also edits annotations, dashboards and alerts · "
    "admin: also manages users"
)

page_header("Users", "Who can sign in to the dashboards, and what may each of them change?")
if not require("manage_users"):
    st.stop()

engine = metadata_engine()
me = current_user()


def _when(value) -> str:
    return value.strftime("%b %d, %Y %H:%M") if value else "never"


def _done(message: str) -> None:
    st.session_state["users_notice"] = message


def _try(action, *args) -> bool:
    """Run an accounts change; show its refusal (last admin, duplicate, bad password) inline."""
    if not require("manage_users"):  # the role may have changed since the page was drawn
        return False
    try:
        action(*args)
    except accounts.AccountError as exc:
        st.error(str(exc), icon=":material/error:")
        return False
    return True


if notice := st.session_state.pop("users_notice", None):
    st.success(notice, icon=":material/check_circle:")

users = accounts.list_users(engine)
st.subheader(f"{len(users)} user{'' if len(users) == 1 else 's'}", anchor=False)
data_table(
    pd.DataFrame(
        {
            "username": [u.username for u in users],
            "role": [u.role for u in users],
            "created": [_when(u.created_at) for u in users],
            "last_sign_in": [_when(u.last_sign_in_at) for u in users],
            "sign_in": ["password" if u.has_password else "single sign-on" for u in users],
        }
    ),
    key="users_table",
    labels={
        "username": "Username",
        "role": "Role",
        "created": "Created (UTC)",
        "last_sign_in": "Last sign-in (UTC)",
        "sign_in": "Signs in with",
    },
)
st.caption(ROLE_HELP)

add, manage = st.columns(2, gap="large")

with add:
    st.subheader("Add a user", anchor=False)
    with st.form("add_user", clear_on_submit=True):
        name = st.text_input("Username", help=accounts.USERNAME_RULE, key="add_username")
        role = st.selectbox("Role", ROLES, key="add_role", help=ROLE_HELP)
        password = st.text_input(
            "Password",
            type="password",
            key="add_password",
            autocomplete="new-password",
            help=f"At least {accounts.MIN_PASSWORD_LENGTH} characters. Give it to them in person.",
        )
        submitted = st.form_submit_button("Add user", type="primary", icon=":material/person_add:")
    if submitted:
        if not name.strip():
            st.error("Enter a username.", icon=":material/error:")
        elif _try(accounts.add_user, engine, name, role, password):
            _done(f"Added {accounts.normalize_username(name)} ({role}): they can sign in now.")
            st.rerun()

with manage:
    st.subheader("Change a user", anchor=False)
    names = [u.username for u in users]
    chosen = st.selectbox("User", names, key="manage_user")
    target = next((u for u in users if u.username == chosen), None)
    if target is not None:
        with st.form("change_role", border=False):
            new_role = st.selectbox(
                "Role", ROLES, index=ROLES.index(target.role), key=f"new_role_{target.username}"
            )
            changed = st.form_submit_button("Change role", icon=":material/badge:")
        if changed and _try(accounts.set_role, engine, target.username, new_role):
            _done(f"{target.username} is now {new_role}.")
            st.rerun()
        with st.form("reset_password", border=False, clear_on_submit=True):
            new_password = st.text_input(
                "New password", type="password", key="new_password", autocomplete="new-password"
            )
            reset = st.form_submit_button("Reset password", icon=":material/key:")
        if reset and _try(accounts.set_password, engine, target.username, new_password):
            _done(f"Password of {target.username} reset; their sessions were ended.")
            st.rerun()
        with st.container(border=True, key="remove_user"):
            if me is not None and target.username == me.name:
                st.caption("You cannot remove yourself: another admin can.")
            else:
                sure = st.checkbox(
                    f"Yes, remove {target.username}", key=f"confirm_remove_{target.username}"
                )
                if st.button(
                    "Remove user", icon=":material/person_remove:", disabled=not sure, key="remove"
                ) and _try(accounts.remove_user, engine, target.username):
                    _done(f"Removed {target.username}; their sessions were ended.")
                    st.rerun()
