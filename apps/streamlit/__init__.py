"""The Streamlit dashboards (``streamlit run apps/streamlit/app.py``).

* ``app.py`` — the entry script: page config and navigation.
* ``pages/`` — one script a page.
* ``components/`` — the chart and component library the pages share.
* ``data.py`` — reads the published gold marts; the client of the query layer (``analytics``)
  comes here when that layer lands.

Imports: the layers below apps (reading data through the query layer, never dbt's warehouse);
never :mod:`apps.api`.
"""
