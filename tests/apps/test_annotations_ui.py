"""The Annotations menu of the dashboards (AppTest on the shared demo's publication, a metadata
database of the module's own): an analyst adds, edits and deletes a note; a viewer sees the notes
but an edit is refused with the role's message; a note added on one page is in the chart specs
of another page; the Share menu gives the page's link with its filters."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import annotations as store
from core.metadata import engine_for
from core.roles import refusal
from core.settings import get_settings

pytestmark = pytest.mark.integration

VIEWS = Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views"
START, END = dt.date(2026, 2, 1), dt.date(2026, 2, 28)
ANALYST = {"name": "ana", "role": "analyst"}
VIEWER = {"name": "vic", "role": "viewer"}


@pytest.fixture(scope="module")
def engine(demo_settings, tmp_path_factory):
    """The demo's gold, and a metadata database of this module (the demo's is read-only)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('meta') / 'pulse.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULSE_METADATA_URL", url)
        get_settings.cache_clear()
        eng = engine_for(get_settings())
        yield eng
        eng.dispose()
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def empty_store(engine):
    from apps.streamlit.components.annotations import _notes

    with engine.begin() as con:
        con.execute(store.annotations_table.delete())
    _notes.clear()


def _run(page: str, user: dict, **params) -> AppTest:
    at = AppTest.from_file(str(VIEWS / f"{page}.py"), default_timeout=120)
    at.session_state["pulse_user"] = user
    at.query_params["range"] = [str(START), str(END)]
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _click(at: AppTest, label: str = "", key: str = "") -> AppTest:
    button = next(b for b in at.button if (key and b.key == key) or (label and b.label == label))
    button.click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _notes_in_charts(at: AppTest) -> str:
    """The annotations named by the page's charts' text alternatives (Streamlit sends the
    charts' data apart from their specs; the description carries the notes)."""
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    return " ".join(
        s["description"].partition("Annotations: ")[2]
        for s in specs
        if "Annotations: " in s.get("description", "")
    )


def test_an_analyst_adds_edits_and_deletes_a_note(engine):
    at = _run("revenue", ANALYST)
    at.date_input(key="annotation_new_day").set_value(dt.date(2026, 2, 14))
    at.text_input(key="annotation_new_text").input("pricing change")
    _click(at, "Add annotation")
    assert any("Annotation added" in s.value for s in at.success)
    (note,) = store.list_in_range(engine)
    assert (note.day, note.text, note.author, note.scope) == (
        dt.date(2026, 2, 14),
        "pricing change",
        "ana",
        "global",
    )
    assert "pricing change" in _notes_in_charts(at), "the page's time charts show it at once"
    assert "Annotations · 1" in [p.proto.popover.label for p in at.get("popover")]

    _click(at, key=f"annotation_edit_btn_{note.id}")
    at.text_input(key=f"annotation_text_{note.id}").input("new pricing")
    _click(at, "Save")
    assert store.get(engine, note.id).text == "new pricing"
    assert "new pricing" in _notes_in_charts(at)

    _click(at, key=f"annotation_delete_{note.id}")
    assert store.list_in_range(engine) == []
    assert _notes_in_charts(at) == ""


def test_a_viewer_sees_notes_but_an_edit_is_refused(engine):
    note = store.add(engine, day=dt.date(2026, 2, 10), text="outage", author="ana")
    at = _run("revenue", VIEWER)
    assert "outage" in _notes_in_charts(at)
    message = refusal("viewer", "edit_annotations")
    at.text_input(key="annotation_new_text").input("sneaky")
    _click(at, "Add annotation")
    assert message in [e.value for e in at.error]
    _click(at, key=f"annotation_delete_{note.id}")
    assert message in [e.value for e in at.error]
    _click(at, key=f"annotation_edit_btn_{note.id}")
    assert message in [e.value for e in at.error]
    assert [n.text for n in store.list_in_range(engine)] == ["outage"]


def test_a_note_added_on_one_page_is_in_another_pages_charts(engine):
    at = _run("revenue", ANALYST)
    at.date_input(key="annotation_new_day").set_value(dt.date(2026, 2, 20))
    at.text_input(key="annotation_new_text").input("launch of the yearly plan")
    _click(at, "Add annotation")
    executive = _run("executive", VIEWER)
    assert "launch of the yearly plan" in _notes_in_charts(executive)
    assert any(
        "launch of the yearly plan" in c.proto.spec for c in executive.get("vega_lite_chart")
    )


def test_a_page_only_note_stays_on_its_page(engine):
    at = _run("revenue", ANALYST)
    at.date_input(key="annotation_new_day").set_value(dt.date(2026, 2, 12))
    at.text_input(key="annotation_new_text").input("revenue only")
    at.checkbox(key="annotation_new_scope").check()
    _click(at, "Add annotation")
    assert "revenue only" in _notes_in_charts(at)
    assert "revenue only" not in _notes_in_charts(_run("executive", ANALYST))


def test_share_gives_the_view_as_a_link(engine):
    at = _run("revenue", VIEWER, platform="ios")
    (code,) = [c.value for c in at.code]
    assert code.startswith("/revenue?") and "range=2026-02-01" in code and "platform=ios" in code
    assert "vic" not in code and "@" not in code, "no one's identity in a shared link"
