"""Live fan-out of accepted events (seed tasks P1-005, P2-007).

``LiveHub(settings)`` is started/stopped by the collector lifespan; the collector calls
``hub.publish(rows)`` right after a durable WAL append and mounts
``lake.live.endpoints.build_routes(hub)`` (the hub itself knows nothing of HTTP):

* ``GET /v1/live/events`` — Server-Sent Events; filters ``event`` (repeatable), ``type``,
  ``user_id``, ``prop.<name>=<value>``, ``aggregates=1``.
* ``WS /v1/live/ws`` — send ``{"subscribe": {...filters...}}`` (again to change them).
* ``GET /v1/live/aggregates?minutes=60`` — per-minute counts by event name + totals.

Frames: events are ``{"kind": "event", message_id, type, event, name, user_id, anonymous_id,
timestamp, received_at (ISO-8601 UTC), properties (object), source_id, collector_id, sequence}``
(SSE ``event:`` line = the message type: ``track``, ``identify``, ``page``...); aggregates are
``{"kind": "aggregate", minute, final, counts, total}`` (SSE ``event: aggregate``); a slow client
gets ``{"kind": "dropped", count, total}`` after frames were dropped for it. ``sequence`` is null
while the flusher has not stamped it (the collector publishes before Delta). WebSocket replies:
``subscribed`` (echoing the filters) and ``error``.

See :mod:`lake.live.hub` for delivery and Redis fan-out and :mod:`lake.live.endpoints` for auth.
"""

from lake.live.filters import FilterError, LiveFilter
from lake.live.hub import LiveHub

__all__ = ["FilterError", "LiveFilter", "LiveHub"]
