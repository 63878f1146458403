"""The chart and component library of the dashboards: reusable Streamlit/Altair pieces that render
the chart specs and metrics the query layer (``analytics``) describes, so every page draws a metric
the same way. Empty until the first component moves here.

Imports: streamlit, altair and the layers below apps; never the pages.
"""
