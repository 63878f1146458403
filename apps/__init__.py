"""The readers' applications: :mod:`apps.streamlit` (dashboards) and :mod:`apps.api` (the BI API).

Imports: the layers below (orchestration, reports, quality, models_ml, analytics, lake, core); the
two apps never import each other, and nothing below imports them.
"""
