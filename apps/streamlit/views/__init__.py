"""Dashboard pages, one script a page, run by ``st.navigation`` in ``apps/streamlit/app.py``.

Imports: :mod:`apps.streamlit.components`, :mod:`apps.streamlit.data` and the layers below apps.
"""
