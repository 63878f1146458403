"""Client SDKs with which an app sends events to the collector's HTTP API (``/v1/batch``, see
docs/collector.md):

* :mod:`sdk.python` — the Python SDK, to become its own installable distribution.
* ``sdk/browser/`` — the browser (JavaScript) SDK.

Imports: nothing of Pulse (a forbidden contract in pyproject.toml): an SDK speaks the wire
protocol only, so it installs without the platform.
"""
