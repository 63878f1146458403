"""The BI API: REST and GraphQL over the gold publication, answering through the query layer
(``analytics``: the metric catalogue and its queries), for BI tools and external readers. Empty
until the API issue.

Imports: the layers below apps (in practice analytics and core); never :mod:`apps.streamlit`.
"""
