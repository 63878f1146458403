"""The reference pages: the metric definitions come from the same catalogue as the numbers (a
card's ``?metric=`` link opens its entry), and the chart gallery draws every component."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.integration

VIEWS = Path(__file__).resolve().parents[2] / "apps" / "streamlit" / "views"


def test_metric_link_opens_its_definition(demo_settings):
    at = AppTest.from_file(str(VIEWS / "metrics.py"), default_timeout=120)
    at.query_params["metric"] = "dau"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    entry = " ".join(m.value for m in at.markdown)
    assert "Daily active users" in entry and "average of the daily values" in entry
    assert "dbt_project/models/semantic/engagement.yml" in entry
    assert len(at.expander) >= 4  # one group per category


def test_gallery_draws_every_component_without_error():
    """Each chart family is a tab (only the open one is drawn): open every tab from the URL."""
    at = AppTest.from_file(str(VIEWS / "gallery.py"), default_timeout=120).run()
    assert not at.exception, [e.message for e in at.exception]
    labels = [t.label for t in at.tabs]
    assert len(labels) == 5
    metrics = codes = vega = plotly = tables = 0
    for label in labels:
        at = AppTest.from_file(str(VIEWS / "gallery.py"), default_timeout=120)
        at.query_params["tab"] = label
        at.run()
        assert not at.exception, (label, [e.message for e in at.exception])
        metrics += len(at.metric)
        codes += len(at.code)
        vega += len(at.get("vega_lite_chart"))
        plotly += len(at.get("plotly_chart"))
        tables += len(at.dataframe)
    assert metrics == 3
    assert codes >= 12  # each example shows the call that draws it
    assert vega >= 9 and plotly == 1 and tables == 1
