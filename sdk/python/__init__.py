"""The Python client SDK (Segment-style ``track``/``identify``/``page`` calls, batched to
``/v1/batch``). It becomes a separately installable distribution with its own pyproject.toml;
until then it is an empty room.

Imports: the standard library and its own declared dependencies; nothing of Pulse.
"""
