"""The dashboards' component library: the Streamlit pieces the pages share (KPI tiles, filters,
a chart's frame with its text alternative), drawing the charts of :mod:`analytics.charts` so every
page shows a metric the same way. Empty until the first component moves here.

Imports: streamlit and the layers below apps (analytics for the charts and metrics); never the
pages.
"""
