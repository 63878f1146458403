"""User-built dashboards: the checks against the catalogue, the templates file, and the store on
SQLite and on the PostgreSQL server at 127.0.0.1 (a database of its own per test, dropped after):
save with optimistic concurrency, shares with a role or a person, preferences."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.dashboards import (
    DashboardError,
    DashboardStore,
    DateRange,
    NotAllowed,
    StaleDashboard,
    Widget,
    breakdowns_for,
    chart_types_for,
    check_widget,
    load_templates,
    parse_date_range,
)
from core import accounts
from core.roles import Principal

ANA = Principal("ana", "analyst")
BEN = Principal("ben", "analyst")
VIV = Principal("viv", "viewer")
ADA = Principal("ada", "admin")


@pytest.fixture(scope="module")
def catalogue(semantic):
    return semantic.catalogue()


@pytest.fixture
def store(metadata_engine, catalogue):
    for person in (ANA, BEN, VIV, ADA):  # shares name people the users table knows
        accounts.add_user(metadata_engine, person.name, person.role, None)
    return DashboardStore(metadata_engine, catalogue)


# ---- validation ------------------------------------------------------------------------------
def test_a_widget_is_checked_against_the_catalogue(catalogue):
    widget = check_widget(
        {"metric": "NET_REVENUE", "chart": "stacked_bar", "breakdown": "plan", "width": "full"},
        catalogue,
    )
    assert (widget.metric, widget.chart, widget.breakdown) == ("net_revenue", "stacked_bar", "plan")
    with pytest.raises(DashboardError, match=r"unknown metric 'revenu'.*net_revenue"):
        check_widget({"metric": "revenu"}, catalogue)
    with pytest.raises(DashboardError, match=r"cannot be broken down by 'colour'.*platform"):
        check_widget({"metric": "dau", "breakdown": "colour"}, catalogue)
    with pytest.raises(DashboardError, match="do not add up"):
        check_widget({"metric": "dau", "chart": "stacked_bar", "breakdown": "plan"}, catalogue)
    with pytest.raises(DashboardError, match="needs a breakdown"):
        check_widget({"metric": "net_revenue", "chart": "stacked_bar"}, catalogue)
    with pytest.raises(DashboardError, match="unknown chart type 'pie'"):
        check_widget({"metric": "dau", "chart": "pie"}, catalogue)
    with pytest.raises(DashboardError, match=r"unknown width 'huge'.*third"):
        check_widget({"metric": "dau", "width": "huge"}, catalogue)
    with pytest.raises(DashboardError, match="cannot be filtered by country"):
        check_widget({"metric": "mrr", "segments": {"country": ["US"]}}, catalogue)
    with pytest.raises(DashboardError, match=r"unknown widget field.*colour"):
        check_widget({"metric": "dau", "colour": "red"}, catalogue)


def test_charts_and_breakdowns_offered_fit_the_metric(catalogue):
    assert "stacked_bar" in chart_types_for(catalogue["net_revenue"])
    assert "stacked_bar" not in chart_types_for(catalogue["dau"])  # an average does not stack
    assert "stacked_bar" not in chart_types_for(catalogue["mrr"])  # nothing to stack by
    net = breakdowns_for(catalogue["net_revenue"])
    assert net[:4] == ("acquisition_channel", "country", "plan", "platform")
    assert "user__age_band" in net and "user__signup_date" not in net


def test_date_ranges_resolve_against_the_data():
    first, last = dt.date(2026, 1, 15), dt.date(2026, 2, 28)
    assert DateRange("last_7_days").resolve(first, last).start == dt.date(2026, 2, 22)
    assert DateRange("last_90_days").resolve(first, last).start == first  # clamped
    month = DateRange("last_month").resolve(first, last)
    assert (month.start, month.end) == (dt.date(2026, 1, 15), dt.date(2026, 1, 31))
    fixed = parse_date_range({"start": "2026-02-01", "end": "2026-02-10"})
    assert fixed.resolve(first, last).days == 10
    with pytest.raises(DashboardError, match="after it ends"):
        parse_date_range({"start": "2026-02-10", "end": "2026-02-01"})
    with pytest.raises(DashboardError, match="unknown relative range 'last_week'"):
        parse_date_range("last_week")


# ---- templates -------------------------------------------------------------------------------
def test_the_bundled_templates_are_valid(catalogue):
    templates = load_templates(None, catalogue)
    titles = {t.title for t in templates.values()}
    assert {"Weekly business review", "Marketplace health", "Product engagement"} <= titles
    assert all(len(t.widgets) >= 5 for t in templates.values())


def test_a_bad_template_file_names_the_template_and_widget(tmp_path, catalogue):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "version: 1\ntemplates:\n"
        "  - {name: ok, title: Fine, widgets: [{metric: dau}]}\n"
        "  - name: broken\n    title: Broken\n    widgets:\n"
        "      - {metric: dau}\n      - {metric: dua, chart: line}\n"
    )
    with pytest.raises(
        DashboardError, match=r"mine.yaml: template 'broken': widget 2: unknown metric 'dua'"
    ):
        load_templates(path, catalogue)
    path.write_text("templates: [{name: x, title: X, widgets: []}]")
    with pytest.raises(DashboardError, match="template 'x': needs a non-empty `widgets:`"):
        load_templates(path, catalogue)


# ---- the store, on SQLite and PostgreSQL ------------------------------------------------------
def test_save_keeps_order_and_widths_and_refuses_a_stale_version(store):
    made = store.create(ANA, "My board", [{"metric": "dau", "chart": "kpi", "width": "third"}])
    assert made.version == 1 and made.widgets[0].id
    widgets = [
        Widget(
            "net_revenue", "bar", "full", breakdown="plan", date_range=DateRange("last_28_days")
        ),
        Widget("dau", "line", "half", segments={"platform": ("ios",)}),
        *made.widgets,
    ]
    saved = store.save(made, ANA, widgets=widgets, title="Renamed")
    assert saved.version == 2
    again = store.get(made.id, ANA)
    assert again.title == "Renamed"
    assert [(w.metric, w.width) for w in again.widgets] == [
        ("net_revenue", "full"),
        ("dau", "half"),
        ("dau", "third"),
    ]
    assert again.widgets[0].date_range == DateRange("last_28_days")
    assert again.widgets[1].segments == {"platform": ("ios",)}
    assert again.widgets[2].id == made.widgets[0].id  # a kept widget keeps its id
    with pytest.raises(StaleDashboard, match=r"saved by ana .* after you opened it .*reload"):
        store.save(made, ANA, widgets=[])  # still version 1
    with pytest.raises(DashboardError, match="widget 1: unknown metric"):
        store.save(again, ANA, widgets=[{"metric": "nope"}])
    assert store.get(made.id, ANA).version == 2  # a refused save changed nothing


def test_shares_with_a_role_or_a_person(store):
    board = store.create(ANA, "Team board", [{"metric": "dau"}])
    assert [x.dashboard.id for x in store.visible_to(BEN)] == []
    with pytest.raises(NotAllowed, match=r"not shared with you.*ana"):
        store.get(board.id, BEN)
    store.share(board.id, ANA, role="analyst")
    listed = store.visible_to(BEN)
    assert [(x.dashboard.id, x.access) for x in listed] == [(board.id, "view")]
    assert store.visible_to(VIV) == []  # shared with analysts: not with viewers
    assert store.access(board.id, ADA) == "edit"  # admins see and edit every dashboard
    with pytest.raises(NotAllowed, match="view but not edit"):
        store.save(store.get(board.id, BEN), BEN, title="Mine now")
    store.share(board.id, ANA, user="ben", permission="edit")
    opened = store.get(board.id, BEN)
    saved = store.save(opened, BEN, title="Ours")
    assert (saved.updated_by, saved.version) == ("ben", 2)
    store.share(board.id, ANA, user="viv", permission="edit")
    assert store.access(board.id, VIV) == "view"  # a viewer's role cannot edit, whatever the share
    assert {s.label() for s in store.shares(board.id)} == {
        "everyone with the analyst role (can view)",
        "ben (can edit)",
        "viv (can edit)",
    }
    store.unshare(board.id, ANA, "role", "analyst")
    assert len(store.shares(board.id)) == 2
    with pytest.raises(DashboardError, match="either a role or a username"):
        store.share(board.id, ANA)
    with pytest.raises(DashboardError, match="unknown role 'boss'"):
        store.share(board.id, ANA, role="boss")
    with pytest.raises(DashboardError, match="there is no user 'bne'"):
        store.share(board.id, ANA, user="bne")  # a typo: nobody would ever see the share


def test_viewers_cannot_create_and_copies_belong_to_the_copier(store):
    with pytest.raises(NotAllowed, match=r"Your role \(viewer\) can view but not edit dashboards"):
        store.create(VIV, "Mine", [])
    board = store.create(ANA, "Source", [{"metric": "dau", "width": "full"}])
    store.share(board.id, ANA, role="viewer")
    copy = store.copy(board.id, BEN)
    assert (copy.owner, copy.title, copy.widgets[0].width) == ("ben", "Source (copy)", "full")
    assert copy.widgets[0].id != board.widgets[0].id
    with pytest.raises(NotAllowed, match="only its owner"):
        store.delete(board.id, BEN)
    store.delete(board.id, ANA)
    assert [x.dashboard.id for x in store.visible_to(BEN)] == [copy.id]


def test_preferences_persist(store):
    board = store.create(ANA, "Default", [])
    assert store.preferences("ana").default_dashboard is None
    store.set_preferences("ana", default_dashboard=board.id)
    store.set_preferences("ana", last_date_range="last_90_days")
    prefs = store.preferences("ana")
    assert (prefs.default_dashboard, prefs.last_date_range) == (board.id, DateRange("last_90_days"))
    store.delete(board.id, ANA)
    assert store.preferences("ana").default_dashboard is None


def test_a_template_becomes_a_dashboard_the_user_owns(store, catalogue):
    template = load_templates(None, catalogue)["marketplace_health"]
    board = store.create(BEN, template.title, template.widgets, template=template.name)
    opened = store.get(board.id, BEN)
    assert opened.owner == "ben" and opened.template == "marketplace_health"
    assert [(w.metric, w.chart, w.width) for w in opened.widgets] == [
        (w.metric, w.chart, w.width) for w in template.widgets
    ]
