"""A page's own actions, in one row under its filters: Annotations (the range's notes), Share
(the permalink) and Download PDF (the page as it is shown, rendered server-side).

The permalink is the page's URL with its query string: the filters, the drill-down path and the
tabs are all bound to it (``components/state.py``), so the link reopens the same view. It holds
filter values only (dates, segment values, tab names), never who is looking.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import streamlit as st

from apps.streamlit import usage
from apps.streamlit.components.annotations import annotations_menu
from apps.streamlit.components.state import View


def page_tools(view: View, page: str) -> None:
    """Annotations, Share and Download PDF for ``page`` (its ``url_path``) in ``view``."""
    with st.container(horizontal=True, horizontal_alignment="right", key="page_tools", gap="small"):
        annotations_menu(view, page)
        with st.popover("Share", icon=":material/share:", key="share_menu"):
            st.markdown("**Link to this view**")
            st.caption("Opens this page with the same dates, filters, drill-down and tab.")
            st.code(permalink(page, view), language=None, wrap_lines=True)
        origin_url = _internal_url(view)
        cookies = dict(st.context.cookies) if origin_url else {}
        st.download_button(
            "PDF",
            data=usage.counted_download("pdf", lambda: _page_pdf(origin_url, cookies)),
            file_name=f"pulse-{page}.pdf",
            mime="application/pdf",
            icon=":material/picture_as_pdf:",
            on_click="ignore",
            disabled=origin_url is None,
            help="The page as shown (same filters), as a PDF. Takes a few seconds.",
            key="page_pdf",
        )


def query_string(view: View | None = None) -> str:
    """The current query string (repeated parameters kept: ``range`` and ``drill``). With
    ``view``, its date range is always in it: Streamlit leaves a filter at its default out of
    the URL, and the default range moves with the data, so a link must name its days."""
    pairs = [(k, v) for k in st.query_params for v in st.query_params.get_all(k)]
    if view is not None and "range" not in st.query_params:
        pairs = [("range", str(view.period.start)), ("range", str(view.period.end)), *pairs]
    return urlencode(pairs)


def permalink(page: str, view: View | None = None) -> str:
    """The address of this view: the browser's URL of the page plus its query string (a path
    alone when the app does not know its URL, e.g. in a test)."""
    base = st.context.url or f"/{page}"
    query = query_string(view)
    return f"{base}?{query}" if query else base


def _internal_url(view: View) -> str | None:
    """The page as this server answers it on loopback (the user's URL may go through a proxy
    the server cannot reach), with the same path and query."""
    if not st.context.url:
        return None
    port = st.get_option("server.port")
    host = st.get_option("server.address") or "127.0.0.1"
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost") else host
    path = urlsplit(st.context.url).path or "/"
    query = query_string(view)
    return f"http://{host}:{port}{path}" + (f"?{query}" if query else "")


def _page_pdf(url: str | None, cookies: dict[str, str]) -> bytes:
    from apps.streamlit.browser_render import page_pdf

    if url is None:
        raise RuntimeError("the page's address is unknown: open it in a browser")
    return page_pdf(url, cookies)
