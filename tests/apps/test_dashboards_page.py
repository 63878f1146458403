"""The Dashboards page (AppTest) on the shared demo's gold publication, with a metadata database
of its own: an analyst starts from an empty state, creates a dashboard, adds a widget, resizes it
and saves; shares it with the analyst role and another analyst opens it from the URL with the
same widgets; a viewer is refused edits with the roles' message; a template becomes a dashboard
the user owns; a save over a newer version is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.dashboards import DashboardStore
from core import accounts
from core.metadata import engine_for
from core.roles import Principal
from core.settings import get_settings

pytestmark = pytest.mark.integration

PAGE = str(Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views" / "dashboards.py")


@pytest.fixture(scope="module")
def env(demo_run, tmp_path_factory):
    """The demo's data, and a metadata database of this module's own (the demo dir is shared)."""
    db = tmp_path_factory.mktemp("dashboards") / "meta.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULSE_DATA_DIR", str(demo_run[0]))
        mp.setenv("PULSE_METADATA_URL", f"sqlite:///{db}")
        get_settings.cache_clear()
        yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def store(env):
    from apps.streamlit.queries import query_layer

    engine = engine_for(env)
    for name in ("ben",):  # the person the page tests share with
        accounts.add_user(engine, name, "analyst", None)
    return DashboardStore(engine, {m.name: m for m in query_layer().catalogue()})


# The one place that says who is signed in: the session's user (as the sign-in sets it).
def sign_in_as(at: AppTest, name: str, role: str) -> AppTest:
    at.session_state["pulse_user"] = {"name": name, "role": role}
    return at


def _page(name: str, role: str, **params: str) -> AppTest:
    at = sign_in_as(AppTest.from_file(PAGE, default_timeout=120), name, role)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption]
    parts += [e.value for e in at.info] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def test_compose_save_share_and_open_as_another_analyst(env, store):
    at = _page("ana", "analyst")
    assert not at.exception
    assert "You have no dashboards yet" in _texts(at)
    _button(at, "new_dashboard").click().run()
    at.text_input(key="new_title").input("Growth weekly")
    _button(at, "new_create").click().run()
    assert not at.exception
    board_id = at.query_params["dashboard"]
    assert "This dashboard is empty. Click **Add widget**" in _texts(at)

    _button(at, "add_widget").click().run()
    at.selectbox(key="aw_metric").set_value("net_revenue").run()
    at.selectbox(key="aw_chart_net_revenue").set_value("stacked_bar").run()
    at.selectbox(key="aw_width").set_value("full").run()
    at.text_input(key="aw_title").input("Revenue by channel")
    _button(at, "aw_add").click().run()
    _button(at, "add_widget").click().run()
    at.selectbox(key="aw_metric").set_value("dau").run()
    at.selectbox(key="aw_chart_dau").set_value("kpi").run()
    _button(at, "aw_add").click().run()
    assert not at.exception
    dau_widget = next(w for w in at.session_state["dash_draft"]["widgets"] if w.metric == "dau")
    at.selectbox(key=f"width_{dau_widget.id}").set_value("third").run()
    _button(at, "save").click().run()
    assert not at.exception, at.exception

    saved = store.get(board_id, Principal("ana", "analyst"))
    assert [(w.metric, w.chart, w.width, w.breakdown) for w in saved.widgets] == [
        ("net_revenue", "stacked_bar", "full", "acquisition_channel"),
        ("dau", "kpi", "third", None),
    ]
    assert any(m.label == "Daily active users" for m in at.metric)  # the KPI card is drawn
    assert "**Revenue by channel**" in _texts(at)
    assert saved.widgets[0].title == "Revenue by channel"

    _button(at, "share").click().run()
    at.selectbox(key="share_role").set_value("analyst")
    _button(at, "share_submit").click().run()
    assert not at.exception
    assert [s.label() for s in store.shares(board_id)] == [
        "everyone with the analyst role (can view)"
    ]

    ben = _page("ben", "analyst")
    assert "Growth weekly" in _texts(ben)  # listed under "Shared with you"
    ben = _page("ben", "analyst", dashboard=board_id)
    assert not ben.exception
    assert "view only" in _texts(ben)
    assert any(m.label == "Daily active users" for m in ben.metric)
    _button(ben, "edit").click().run()
    assert "ask ana for edit access" in _texts(ben)


def test_a_viewer_is_refused_edits(env, store):
    board = store.create(Principal("ana", "analyst"), "For everyone", [{"metric": "dau"}])
    store.share(board.id, Principal("ana", "analyst"), role="viewer")
    at = _page("vic", "viewer")
    assert "your role can view, not build" in _texts(at)
    assert not [b for b in at.button if b.key == "new_dashboard"]
    _button(at, "use_weekly_business_review").click().run()
    assert "Your role (viewer) can view but not edit dashboards" in _texts(at)
    at = _page("vic", "viewer", dashboard=board.id)
    assert not at.exception
    _button(at, "edit").click().run()
    assert "Your role (viewer) can view but not edit dashboards" in _texts(at)
    assert "dash_draft" not in at.session_state


def test_a_template_becomes_a_dashboard_the_user_owns(env, store):
    at = _page("tess", "analyst")
    _button(at, "use_marketplace_health").click().run()
    assert not at.exception, at.exception
    board_id = at.query_params["dashboard"]
    board = store.get(board_id, Principal("tess", "analyst"))
    assert (board.owner, board.title, board.template) == (
        "tess",
        "Marketplace health",
        "marketplace_health",
    )
    assert "Program purchases" in {m.label for m in at.metric}


def test_a_save_over_a_newer_version_is_refused(env, store):
    ana = Principal("ana", "analyst")
    board = store.create(ana, "Contested", [{"metric": "dau"}])
    store.share(board.id, ana, user="ben", permission="edit")
    at = _page("ana", "analyst", dashboard=board.id)
    _button(at, "edit").click().run()
    store.save(store.get(board.id, ana), Principal("ben", "analyst"), title="Ben's")
    _button(at, "save").click().run()
    assert "was saved by ben" in _texts(at) and "reload it" in _texts(at)
    assert store.get(board.id, ana).title == "Ben's"


def test_the_last_date_range_and_the_default_dashboard_are_remembered(env, store):
    import datetime as dt

    rita = Principal("rita", "analyst")
    board = store.create(rita, "Rita's", [{"metric": "dau", "chart": "kpi"}])
    at = _page("rita", "analyst", dashboard=board.id)
    at.date_input(key="range").set_value((dt.date(2026, 2, 1), dt.date(2026, 2, 7))).run()
    assert not at.exception
    last = store.preferences("rita").last_date_range
    assert (last.start, last.end) == (dt.date(2026, 2, 1), dt.date(2026, 2, 7))
    _button(at, "make_default").click().run()
    assert store.preferences("rita").default_dashboard == board.id

    again = _page("rita", "analyst")  # a new session, no dashboard in the URL
    assert again.query_params["dashboard"] == board.id  # the default opens
    assert again.date_input(key="range").value == (dt.date(2026, 2, 1), dt.date(2026, 2, 7))


def test_the_owner_deletes_a_dashboard(env, store):
    owner = Principal("olga", "analyst")
    board = store.create(owner, "Short-lived", [{"metric": "dau"}])
    at = _page("olga", "analyst", dashboard=board.id)
    _button(at, "edit").click().run()
    _button(at, "delete_confirm").click().run()
    assert not at.exception
    assert "dashboard" not in at.query_params
    assert board.id not in {x.dashboard.id for x in store.visible_to(owner)}
