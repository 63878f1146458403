"""The foundation every Pulse package may import: configuration and shared plumbing.

* :mod:`core.settings` — the one ``Settings`` object (``PULSE_`` environment, embedded defaults).
* :mod:`core.metadata` — the app-metadata database (SQLAlchemy ``MetaData`` and engines).
* :mod:`core.pii_policy` — the PII field policy file named by ``PULSE_PII_POLICY_PATH``.

Imports: the standard library and third-party packages only, nothing of Pulse (enforced by the
layers contract in pyproject.toml, ``[tool.importlinter]``).
"""
