"""Annotations in the dashboards: the notes every time chart draws (:func:`chart_notes`) and the
"Annotations" menu of a page that lists the range's notes and adds, edits and deletes them.

Reads are cached for a short while (every chart of every page asks) and the cache is cleared on
every write, so a note appears at once in this server and within :data:`CACHE_SECONDS` in any
other replica. Writes need ``edit_annotations`` (``core.roles``): a viewer sees the notes, and an
attempt to change one is refused with the reason (``apps.streamlit.auth.require``).
"""

from __future__ import annotations

import datetime as dt

import streamlit as st
from sqlalchemy import Engine

from analytics import annotations as store
from analytics import charts
from apps.streamlit.auth import current_user, require
from apps.streamlit.components.state import View
from core.metadata import engine_for
from core.settings import get_settings

CACHE_SECONDS = 30
ACTION = "edit_annotations"
_EDITING = "annotations_editing"  # session key: the id of the note being edited
_FLASH = "annotations_flash"  # session key: what the last write did, shown after its rerun


@st.cache_resource(show_spinner=False)
def _engine_for_url(url: str) -> Engine:
    return engine_for(get_settings())


def _engine() -> Engine:
    return _engine_for_url(get_settings().metadata_db_url)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _notes(url: str, page: str | None) -> list[store.StoredAnnotation]:
    return store.list_in_range(_engine_for_url(url), page=page)


def page_notes(page: str | None = None) -> list[store.StoredAnnotation]:
    """Every note a page shows (global ones and the page's own), by day; cached."""
    return _notes(get_settings().metadata_db_url, page)


def chart_notes(page: str | None = None) -> tuple[charts.Annotation, ...]:
    """The notes to pass to a time chart of ``page`` (``annotations=chart_notes(PAGE)``): each
    chart keeps those on the days it spans."""
    return tuple(charts.Annotation(n.day, n.text) for n in page_notes(page))


def _changed(message: str) -> None:
    _notes.clear()
    st.session_state[_FLASH] = message
    st.session_state.pop(_EDITING, None)
    st.rerun()


def annotations_menu(view: View, page: str | None) -> None:
    """The page's "Annotations" button: a popover listing the notes of the view's range, with
    a form to add one and an edit and a delete button on each."""
    period = view.period
    shown = [n for n in page_notes(page) if period.start <= n.day <= period.end]
    label = f"Annotations · {len(shown)}" if shown else "Annotations"
    with st.popover(label, icon=":material/bookmark:", key="annotations_menu"):
        flash = st.session_state.pop(_FLASH, None)
        if flash:
            st.success(flash, icon=":material/check:")
        st.caption(f"Notes on days of {period.label()}: every time chart of the range marks them.")
        for note in shown:
            _note_row(note, page)
        _add_form(view, page)


def _note_row(note: store.StoredAnnotation, page: str | None) -> None:
    if st.session_state.get(_EDITING) == note.id:
        with st.form(f"annotation_edit_{note.id}", border=True):
            day = st.date_input("Day", value=note.day, key=f"annotation_day_{note.id}")
            text = st.text_input(
                "Note", value=note.text, max_chars=store.MAX_TEXT, key=f"annotation_text_{note.id}"
            )
            save, cancel = st.columns(2)
            saved = save.form_submit_button("Save", type="primary")
            cancelled = cancel.form_submit_button("Cancel")
        if cancelled:
            st.session_state.pop(_EDITING, None)
            st.rerun()
        if saved and require(ACTION):
            _write(
                lambda: store.update(
                    _engine(), note.id, author=_username(), day=_one_day(day), text=text
                ),
                "Annotation saved.",
            )
        return
    with st.container(horizontal=True, vertical_alignment="center", key=f"annotation_{note.id}"):
        where = "" if note.scope == store.GLOBAL else " · this page only"
        st.markdown(
            f"**{note.day:%b %d, %Y}** {_escape(note.text)}  \n:gray[by {note.author}{where}]",
            width="stretch",
        )
        if st.button(
            "Edit", key=f"annotation_edit_btn_{note.id}", icon=":material/edit:", type="tertiary"
        ) and require(ACTION):
            st.session_state[_EDITING] = note.id
            st.rerun()
        if st.button(
            "Delete",
            key=f"annotation_delete_{note.id}",
            icon=":material/delete:",
            type="tertiary",
        ) and require(ACTION):
            _write(lambda: store.delete(_engine(), note.id), "Annotation deleted.")


def _add_form(view: View, page: str | None) -> None:
    with st.form("annotation_add", clear_on_submit=True, border=False):
        st.markdown("**Add an annotation**")
        day = st.date_input("Day", value=view.period.end, key="annotation_new_day")
        text = st.text_input(
            "Note",
            max_chars=store.MAX_TEXT,
            placeholder="e.g. pricing change, outage",
            key="annotation_new_text",
        )
        only_here = st.checkbox("Only on this page", key="annotation_new_scope") if page else False
        added = st.form_submit_button("Add annotation", icon=":material/add:")
    if added and require(ACTION):
        _write(
            lambda: store.add(
                _engine(),
                day=_one_day(day),
                text=text,
                author=_username(),
                scope=page if only_here else None,
            ),
            "Annotation added: every time chart of that day shows it.",
        )


def _write(change, done: str) -> None:  # type: ignore[no-untyped-def]
    try:
        change()
    except store.AnnotationError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    except store.AnnotationNotFound as exc:
        _notes.clear()
        st.warning(str(exc))
        return
    _changed(done)


def _username() -> str:
    user = current_user()
    return user.name if user else ""


def _one_day(value: object) -> dt.date:
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    if not isinstance(value, dt.date):
        raise store.AnnotationError("Pick the day the note is about.")
    return value


def _escape(text: str) -> str:
    """User text shown as text, not Markdown (a note "*outage*" stays as typed)."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]()#+-.!|~<>$:" else c for c in text)
