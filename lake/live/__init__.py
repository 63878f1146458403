"""Live fan-out of accepted events (seed tasks P1-005, P2-007).

``LiveHub(settings)`` is started/stopped by the collector lifespan; the collector calls
``hub.publish(rows)`` right after a durable WAL append and mounts ``hub.routes()``:

* ``GET /v1/live/events`` — Server-Sent Events; filters ``event`` (repeatable), ``type``,
  ``user_id``, ``prop.<name>=<value>``, ``aggregates=1``.
* ``WS /v1/live/ws`` — send ``{"subscribe": {...filters...}}`` (again to change them).
* ``GET /v1/live/aggregates?minutes=60`` — per-minute counts by event name + totals.

See :mod:`lake.live.hub` for delivery and Redis fan-out and :mod:`lake.live.endpoints` for auth.
"""

from lake.live.filters import FilterError, LiveFilter
from lake.live.hub import LiveHub

__all__ = ["FilterError", "LiveFilter", "LiveHub"]
