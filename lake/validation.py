"""Envelope validation and normalization of one Segment message into a bronze row (pure).

:func:`normalize` turns a (PII-masked) raw message into either a row dict for ``bronze.events``
or a :class:`Rejection` (reason code + human message) for ``bronze.quarantine``.

Row values are *Arrow-ready*: timestamps are integers (microseconds since the Unix epoch, UTC)
and ``event_date`` is an integer (days since the epoch), so rows round-trip through the WAL as
plain JSON and become Arrow columns without per-value conversion. ``collector_id`` and
``sequence`` are stamped later by whoever writes (the flusher derives ``sequence`` from the WAL
offset). :func:`quarantine_row` builds the matching quarantine row.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from lake.privacy import truncate_ip

EVENT_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})
MAX_MESSAGE_ID_LEN = 100
US_PER_DAY = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was not accepted; ``reason`` is a stable machine code."""

    reason: str
    message: str
    message_id: str | None = None


# Reason codes (stable: dashboards and alerts group quarantine rows by them).
NOT_AN_OBJECT = "not_an_object"
INVALID_TYPE = "invalid_type"
MISSING_IDENTITY = "missing_identity"
MISSING_EVENT = "missing_event"
MISSING_GROUP_ID = "missing_group_id"
MISSING_PREVIOUS_ID = "missing_previous_id"
MISSING_USER_ID = "missing_user_id"
INVALID_TIMESTAMP = "invalid_timestamp"
INVALID_FIELD = "invalid_field_type"
INVALID_MESSAGE_ID = "invalid_message_id"
UNKNOWN_EVENT = "unknown_event"
SCHEMA_VIOLATION = "schema_violation"
EVENT_TOO_LARGE = "event_too_large"

# A per-event check of a track event: ``(event name, properties) -> (reason, message) | None``.
EventCheck = Callable[[str, dict[str, Any]], tuple[str, str] | None]


class _Invalid(Exception):
    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch of an aware (or naive = UTC) datetime."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def parse_timestamp_us(value: Any, field: str) -> int | None:
    """ISO-8601 text → epoch microseconds; ``None`` if absent; :class:`_Invalid` if unparsable."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid(INVALID_TIMESTAMP, f"{field} must be an ISO-8601 string, got {value!r:.60}")
    us = _iso_us(value)
    if us is None:
        raise _Invalid(INVALID_TIMESTAMP, f"{field} is not an ISO-8601 timestamp: {value!r:.60}")
    if us == _OUT_OF_RANGE:
        raise _Invalid(INVALID_TIMESTAMP, f"{field} is out of range: {value!r:.60}")
    return us  # type: ignore[return-value]


_OUT_OF_RANGE = -(2**63)


@functools.lru_cache(maxsize=8192)
def _iso_us(value: str) -> int | None:
    """Cached parse (a batch repeats its sentAt, SDKs repeat timestamps): None if unparsable."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    try:
        return to_us(dt)
    except OverflowError:
        return _OUT_OF_RANGE


def _id(value: Any) -> str | None:
    """Segment coerces numeric ids to strings; empty strings count as absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _json_object(msg: dict[str, Any], key: str) -> str | None:
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Invalid(INVALID_FIELD, f"{key} must be an object, got {type(value).__name__}")
    return orjson.dumps(value).decode()


def _message_id(msg: dict[str, Any]) -> str:
    mid = msg.get("messageId")
    if mid is None or mid == "":
        return str(uuid.uuid4())
    if isinstance(mid, int) and not isinstance(mid, bool):
        mid = str(mid)
    if not isinstance(mid, str) or len(mid) >= MAX_MESSAGE_ID_LEN:
        raise _Invalid(
            INVALID_MESSAGE_ID, f"messageId must be a string under {MAX_MESSAGE_ID_LEN} chars"
        )
    return mid


def normalize(
    msg: Any,
    *,
    received_at_us: int,
    source_id: str,
    batch_context: dict[str, Any] | None = None,
    batch_integrations: dict[str, Any] | None = None,
    batch_sent_at: Any = None,
    client_ip: str | None = None,
    default_type: str | None = None,
    known_events: frozenset[str] | None = None,
    event_check: EventCheck | None = None,
) -> dict[str, Any] | Rejection:
    """Validate one message and build its ``bronze.events`` row, or say why it is rejected.

    ``batch_context``/``batch_integrations``/``batch_sent_at`` are the batch envelope's values,
    merged under the message's own (the message wins). ``client_ip`` fills ``context.ip`` when the
    message has none (truncated). ``default_type`` is the type implied by a single-event endpoint.
    ``known_events``: when given, a track event whose name is not in it is rejected (policy
    "quarantine unknown events"). ``event_check``: called with a track event's name and
    properties (schema validation, unknown-event policy); a ``(reason, message)`` rejects it.
    """
    if not isinstance(msg, dict):
        return Rejection(
            NOT_AN_OBJECT, f"each message must be a JSON object, got {type(msg).__name__}"
        )
    try:
        return _normalize(
            msg,
            received_at_us,
            source_id,
            batch_context,
            batch_integrations,
            batch_sent_at,
            client_ip,
            default_type,
            known_events,
            event_check,
        )
    except _Invalid as exc:
        mid = msg.get("messageId")
        return Rejection(
            exc.reason, exc.message, mid if isinstance(mid, str) and len(mid) < 200 else None
        )


def _normalize(
    msg: dict[str, Any],
    received_at_us: int,
    source_id: str,
    batch_context: dict[str, Any] | None,
    batch_integrations: dict[str, Any] | None,
    batch_sent_at: Any,
    client_ip: str | None,
    default_type: str | None,
    known_events: frozenset[str] | None,
    event_check: EventCheck | None,
) -> dict[str, Any]:
    mtype = msg.get("type") or default_type
    if mtype not in EVENT_TYPES:
        raise _Invalid(
            INVALID_TYPE, f"type must be one of {sorted(EVENT_TYPES)}, got {mtype!r:.40}"
        )
    message_id = _message_id(msg)

    user_id = _id(msg.get("userId"))
    anonymous_id = _id(msg.get("anonymousId"))
    if user_id is None and anonymous_id is None:
        raise _Invalid(MISSING_IDENTITY, "userId or anonymousId is required")

    event = name = group_id = previous_id = None
    if mtype == "track":
        event = msg.get("event")
        if not isinstance(event, str) or not event.strip():
            raise _Invalid(MISSING_EVENT, "track messages need a non-empty event name")
        if known_events is not None and event not in known_events:
            raise _Invalid(UNKNOWN_EVENT, f"event {event!r:.80} has no registered schema")
        props = msg.get("properties")
        if event_check is not None and (props is None or isinstance(props, dict)):
            verdict = event_check(event, props or {})
            if verdict is not None:
                raise _Invalid(*verdict)
    elif mtype in ("page", "screen"):
        raw_name = msg.get("name")
        name = raw_name if isinstance(raw_name, str) else None
    elif mtype == "group":
        group_id = _id(msg.get("groupId"))
        if group_id is None:
            raise _Invalid(MISSING_GROUP_ID, "group messages need a groupId")
    elif mtype == "alias":
        previous_id = _id(msg.get("previousId"))
        if previous_id is None:
            raise _Invalid(MISSING_PREVIOUS_ID, "alias messages need a previousId")
        if user_id is None:
            raise _Invalid(MISSING_USER_ID, "alias messages need a userId")

    # Time: timestamp = receivedAt - (sentAt - originalTimestamp), i.e. corrected for clock skew.
    original_us = parse_timestamp_us(
        msg.get("timestamp") or msg.get("originalTimestamp"), "timestamp"
    )
    sent_raw = msg.get("sentAt")
    sent_us = parse_timestamp_us(sent_raw if sent_raw is not None else batch_sent_at, "sentAt")
    if original_us is None:
        ts_us = received_at_us
    elif sent_us is None:
        ts_us = original_us
    else:
        ts_us = received_at_us - (sent_us - original_us)

    # Context: batch context under the message's own; client IP if none given.
    ctx = msg.get("context")
    if ctx is not None and not isinstance(ctx, dict):
        raise _Invalid(INVALID_FIELD, f"context must be an object, got {type(ctx).__name__}")
    if batch_context:
        ctx = {**batch_context, **ctx} if ctx else dict(batch_context)
    if client_ip and (ctx is None or "ip" not in ctx):
        ctx = dict(ctx) if ctx else {}
        ctx["ip"] = truncate_ip(client_ip)
    integrations = msg.get("integrations")
    if integrations is not None and not isinstance(integrations, dict):
        raise _Invalid(
            INVALID_FIELD, f"integrations must be an object, got {type(integrations).__name__}"
        )
    if batch_integrations:
        integrations = (
            {**batch_integrations, **integrations} if integrations else batch_integrations
        )

    return {
        "message_id": message_id,
        "type": mtype,
        "event": event,
        "name": name,
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "group_id": group_id,
        "previous_id": previous_id,
        "timestamp": ts_us,
        "original_timestamp": original_us,
        "sent_at": sent_us,
        "received_at": received_at_us,
        "context": orjson.dumps(ctx).decode() if ctx is not None else None,
        "properties": _json_object(msg, "properties"),
        "traits": _json_object(msg, "traits"),
        "integrations": orjson.dumps(integrations).decode() if integrations is not None else None,
        "source_id": source_id,
        "event_date": ts_us // US_PER_DAY,
    }


def quarantine_row(
    payload: Any, rejection: Rejection, *, received_at_us: int, source_id: str
) -> dict[str, Any]:
    """The ``bronze.quarantine`` row of a rejected (already PII-masked) payload."""
    return {
        "message_id": rejection.message_id,
        "reason": rejection.reason,
        "payload": orjson.dumps(
            {"error": rejection.message, "message": payload}, default=str
        ).decode(),
        "source_id": source_id,
        "received_at": received_at_us,
        "received_date": received_at_us // US_PER_DAY,
    }
