"""The annotation store on SQLite and on the PostgreSQL server at 127.0.0.1 (a database of
its own per test, dropped afterwards): add, list a range (global plus a page's own), edit (who
edited is kept beside the author), delete, and the text rules."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics import annotations as store

D = dt.date(2026, 2, 10)


@pytest.fixture
def engine(metadata_engine):
    """SQLite and PostgreSQL (tests/conftest.py)."""
    return metadata_engine


def test_add_list_edit_delete(engine):
    first = store.add(engine, day=D, text="  pricing   change ", author="ana")
    assert (first.day, first.text, first.scope, first.author) == (
        D,
        "pricing change",
        "global",
        "ana",
    )
    assert first.created_at.tzinfo is not None
    page_note = store.add(
        engine, day=D + dt.timedelta(days=2), text="outage", author="bo", scope="revenue"
    )
    store.add(engine, day=D + dt.timedelta(days=30), text="later", author="ana")

    in_range = store.list_in_range(engine, D, D + dt.timedelta(days=7))
    assert [a.text for a in in_range] == ["pricing change"], "another page's note is not global"
    on_revenue = store.list_in_range(engine, D, D + dt.timedelta(days=7), page="revenue")
    assert [a.text for a in on_revenue] == ["pricing change", "outage"]
    assert len(store.list_in_range(engine)) == 2

    edited = store.update(
        engine, page_note.id, author="ana", text="API outage", day=D + dt.timedelta(days=3)
    )
    assert (edited.text, edited.day, edited.author, edited.updated_by) == (
        "API outage",
        D + dt.timedelta(days=3),
        "bo",
        "ana",
    )
    assert edited.updated_at >= edited.created_at

    store.delete(engine, first.id)
    assert [a.text for a in store.list_in_range(engine, page="revenue")] == ["API outage", "later"]
    with pytest.raises(store.AnnotationNotFound):
        store.delete(engine, first.id)
    with pytest.raises(store.AnnotationNotFound):
        store.update(engine, first.id, author="ana", text="x")


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("   ", "empty"), ("x" * (store.MAX_TEXT + 1), "200 characters")],
)
def test_text_must_be_a_short_non_empty_label(engine, text, message):
    with pytest.raises(store.AnnotationError, match=message):
        store.add(engine, day=D, text=text, author="ana")
    assert store.list_in_range(engine) == []


def test_author_and_scope_are_checked(engine):
    with pytest.raises(store.AnnotationError, match="author"):
        store.add(engine, day=D, text="ok", author=" ")
    with pytest.raises(store.AnnotationError, match="scope"):
        store.add(engine, day=D, text="ok", author="ana", scope="../etc")
    assert len(store.add(engine, day=D, text="x" * store.MAX_TEXT, author="ana").text) == 200
