"""Chart gallery: every component of the chart library (analytics.charts, apps/streamlit/components)
drawn on small example data, with the call that draws it — the library's documentation."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import streamlit as st

from analytics import charts
from analytics.targets import Target
from apps.streamlit.components.cards import Card, kpi_card
from apps.streamlit.components.layout import data_table, page_header, section_tabs, show_chart

page_header(
    "Chart gallery",
    "Which charts and components can a page or report use, and how do they look? (Example data.)",
)
st.markdown(
    "Colours are the Okabe–Ito palette (safe for the common colour-vision deficiencies); heatmaps "
    "use viridis and print their values; every chart carries a text alternative computed from its "
    "data, read by screen readers. Numbers are formatted by unit (`count`, `currency`, `percent`, "
    "`seconds`, ...) the same way on every page and in reports."
)
with st.container(horizontal=True, key="palette"):
    for colour in charts.PALETTE:
        st.html(
            f'<div title="{colour}" style="width:28px;height:28px;border-radius:4px;'
            f'background:{colour}" aria-label="colour {colour}"></div>'
        )

DAYS = [dt.date(2026, 2, 1) + dt.timedelta(days=i) for i in range(28)]
series = pl.DataFrame(
    {"day": DAYS, "value": [120 + 25 * math.sin(i / 3) + i * 1.5 for i in range(28)]}
)
previous = series.with_columns(pl.col("value") * 0.9)
stacked = pl.DataFrame(
    {
        "day": DAYS * 2,
        "stream": ["Subscriptions"] * 28 + ["Programs"] * 28,
        "revenue": [300 + 10 * i for i in range(28)] + [120 + 5 * (i % 7) for i in range(28)],
    }
)
programs = pl.DataFrame(
    {
        "program": [f"P{i}" for i in range(12)],
        "views": [50 + 37 * i for i in range(12)],
        "conversion": [0.02 + (i % 5) * 0.015 for i in range(12)],
        "revenue": [100.0 * (i + 1) for i in range(12)],
    }
)


def example(title: str, code: str) -> None:
    st.subheader(title)
    st.code(code, language="python")


def _cards_and_lines() -> None:
    example(
        "KPI card",
        'kpi_card(Card(name="dau", label="Daily active users", value=164, unit="count", direction="up",\n'
        '              change=0.081, previous=151.7, target=Target("dau", 150, "up"), trend=[...]), key="dau")',
    )
    cols = st.columns(3)
    with cols[0]:
        kpi_card(
            Card(
                "dau",
                "Daily active users",
                164,
                "count",
                "up",
                0.081,
                151.7,
                Target("dau", 150, "up"),
                series["value"].to_list(),
            ),
            key="g_dau",
        )
    with cols[1]:
        kpi_card(
            Card(
                "net_revenue",
                "Net revenue",
                9200.0,
                "currency",
                "up",
                -0.08,
                10000.0,
                Target("net_revenue", 9500, "up"),
                series["value"].to_list(),
            ),
            key="g_rev",
        )
    with cols[2]:
        kpi_card(
            Card(
                "churn",
                "Subscriber churn rate",
                0.071,
                "percent",
                "down",
                0.2,
                0.059,
                Target("churn", 0.05, "down", 0.2),
            ),
            key="g_churn",
        )

    example(
        "Line with comparison period and annotations",
        'charts.line_chart(frame, x="day", y="value", unit="count", comparison=previous,\n'
        '                  annotations=[charts.Annotation(day, "pricing change")], select="day")',
    )
    show_chart(
        charts.line_chart(
            series,
            x="day",
            y="value",
            title="Daily active users",
            y_title="users",
            unit="count",
            comparison=previous,
            comparison_label="previous period",
            annotations=[
                charts.Annotation(DAYS[9], "pricing change"),
                charts.Annotation(DAYS[20], "outage"),
            ],
        ),
        key="g_line",
    )
    example("Area", 'charts.line_chart(frame, x="day", y="value", unit="currency", area=True)')
    show_chart(
        charts.line_chart(
            series, x="day", y="value", unit="currency", area=True, title="Net revenue"
        ),
        key="g_area",
    )


def _bars_and_parts() -> None:
    example(
        "Stacked bar (temporal)",
        'charts.bar_chart(frame, x="day", y="revenue", color="stream", temporal=True, unit="currency")',
    )
    show_chart(
        charts.bar_chart(
            stacked,
            x="day",
            y="revenue",
            color="stream",
            temporal=True,
            unit="currency",
            title="Revenue by stream",
        ),
        key="g_stacked",
    )
    left, right = st.columns(2)
    with left:
        example(
            "Horizontal bar",
            'charts.bar_chart(frame, x="channel", y="users", horizontal=True, unit="count")',
        )
        channels = pl.DataFrame(
            {
                "channel": ["organic", "paid_social", "referral", "search", "partner"],
                "users": [210, 140, 80, 70, 40],
            }
        )
        show_chart(
            charts.bar_chart(
                channels,
                x="channel",
                y="users",
                horizontal=True,
                unit="count",
                title="New users by channel",
            ),
            key="g_hbar",
        )
    with right:
        example("Donut", 'charts.donut_chart(frame, category="platform", value="users")')
        platforms = pl.DataFrame({"platform": ["ios", "android", "web"], "users": [520, 380, 100]})
        show_chart(
            charts.donut_chart(
                platforms, category="platform", value="users", title="Users by platform"
            ),
            key="g_donut",
        )


def _scatter_funnel_heatmap() -> None:
    left, right = st.columns(2)
    with left:
        example(
            "Scatter",
            'charts.scatter_chart(frame, x="views", y="conversion", label="program", y_unit="percent")',
        )
        show_chart(
            charts.scatter_chart(
                programs,
                x="views",
                y="conversion",
                y_unit="percent",
                x_unit="count",
                size="revenue",
                label="program",
                title="Views vs conversion",
            ),
            key="g_scatter",
        )
    with right:
        example("Funnel", 'charts.funnel_chart(steps, step="step", value="users")')
        steps = pl.DataFrame(
            {
                "step": ["Signed up", "First workout", "First purchase or subscription"],
                "users": [1000, 640, 210],
            }
        )
        show_chart(charts.funnel_chart(steps, title="Signup funnel"), key="g_funnel")
    example(
        "Heatmap (cohorts)",
        'charts.heatmap(frame, x="week", y="cohort", value="retention", unit="percent")',
    )
    cohorts = pl.DataFrame(
        [
            {
                "cohort": f"2026-W{w:02d}",
                "week": k,
                "retention": round(max(0.0, 1.0 - 0.35 * math.log1p(k) - 0.01 * w), 3),
            }
            for w in range(1, 7)
            for k in range(0, 7 - w + 1)
        ]
    )
    show_chart(
        charts.heatmap(
            cohorts,
            x="week",
            y="cohort",
            value="retention",
            title="Weekly cohort retention",
            x_title="weeks since signup",
        ),
        key="g_heat",
    )


def _waterfall_and_flow() -> None:
    example(
        "Waterfall",
        'charts.waterfall_chart(movements, label="movement", value="amount", unit="currency")',
    )
    moves = pl.DataFrame(
        {
            "movement": [
                "Starting MRR",
                "New",
                "Expansion",
                "Reactivated",
                "Contraction",
                "Churned",
                "Ending MRR",
            ],
            "amount": [10000.0, 1800.0, 400.0, 150.0, -300.0, -900.0, 11150.0],
        }
    )
    show_chart(charts.waterfall_chart(moves, title="MRR movements"), key="g_waterfall")
    example(
        "Flow (Sankey)",
        'charts.flow_chart(links, source="from_screen", target="to_screen", value="transitions")',
    )
    links = pl.DataFrame(
        {
            "from_screen": ["Home", "Home", "Workouts", "Programs", "Home"],
            "to_screen": ["Workouts", "Programs", "Home", "Checkout", "Profile"],
            "transitions": [420, 260, 180, 90, 60],
        }
    )
    show_chart(charts.flow_chart(links, title="Screen flow"), key="g_flow")


def _table() -> None:
    example(
        "Table (sortable, filterable, formatted by unit)",
        'data_table(frame, key="t", formats={"revenue": "currency", "conversion": "percent"})',
    )
    data_table(
        programs,
        key="g_table",
        formats={"views": "count", "conversion": "percent", "revenue": "currency"},
    )


section_tabs(
    {
        "Cards and lines": _cards_and_lines,
        "Bars and parts": _bars_and_parts,
        "Scatter, funnel, heatmap": _scatter_funnel_heatmap,
        "Waterfall and flow": _waterfall_and_flow,
        "Table": _table,
    }
)
