"""The roof: the ``pulse`` command line (:mod:`pulse.cli`, with :mod:`pulse.privacy_cli` and
:mod:`pulse.alerts_cli`), the demo runner (:mod:`pulse.demo`) and service supervision
(:mod:`pulse.services`).

Imports: any Pulse package below it, each lazily inside the command that needs it, so
``pulse --help`` stays fast. No layer imports ``pulse`` (the benchmarks in bench/, outside the
layers, drive the demo services through :mod:`pulse.services`).
"""
