"""The one normalization path shared by the HTTP collector and the bulk loader.

mask PII → validate/normalize → consent → a WAL/Delta record: ``("event", row)``,
``("quarantine", row)`` or ``("consent", row)`` (a consent message's ledger row, before its event).
Events of an identity whose analytics consent is withdrawn are dropped and counted
(:mod:`lake.consent`). No I/O, so both paths produce identical rows for identical input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from core.pii_policy import FieldPolicy
from lake.consent import (
    CONSENT,
    CONSENT_EVENT,
    ConsentChange,
    ConsentGate,
    consent_change,
    identity_key,
    ledger_row,
)
from lake.privacy import MaskCounts, mask_context, mask_message, mask_value
from lake.validation import (
    EVENT_TOO_LARGE,
    SCHEMA_VIOLATION,
    UNKNOWN_EVENT,
    EventCheck,
    Rejection,
    normalize,
    quarantine_row,
)

EVENT = "event"
QUARANTINE = "quarantine"


@dataclass(slots=True)
class Prepared:
    """Records ready to append, plus per-message errors and masking counts."""

    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    accepted: int = 0
    quarantined: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    masked: MaskCounts = field(default_factory=MaskCounts)
    consent_dropped: int = 0  # events (and quarantine rows) of users without analytics consent
    consent_changes: list[ConsentChange] = field(default_factory=list)


class _Verdict(Protocol):
    known: bool
    valid: bool
    error: str | None


class _Registry(Protocol):
    def check(self, event_name: str, properties: dict[str, Any]) -> _Verdict: ...


def schema_check(registry: _Registry, unknown_event_policy: str) -> EventCheck:
    """An ``event_check`` for :func:`prepare`: JSON Schema validation + unknown-name policy.

    Known name, invalid properties → ``schema_violation``; unknown name → ``unknown_event`` when
    the policy is ``"quarantine"``, accepted otherwise.
    """
    quarantine_unknown = unknown_event_policy == "quarantine"

    def check(event: str, properties: dict[str, Any]) -> tuple[str, str] | None:
        verdict = registry.check(event, properties)
        if not verdict.known:
            if quarantine_unknown:
                return UNKNOWN_EVENT, f"event {event!r:.80} has no registered schema"
            return None
        if not verdict.valid:
            return SCHEMA_VIOLATION, f"{event!r:.80}: {verdict.error or 'invalid properties'}"
        return None

    return check


def mask_batch_envelope(
    context: Any,
    key: bytes,
    counts: MaskCounts | None = None,
    policy: FieldPolicy | None = None,
) -> dict[str, Any] | None:
    """Mask a batch-level context once (it is merged into every message afterwards)."""
    if not isinstance(context, dict):
        return None
    return mask_context(context, key, counts if counts is not None else MaskCounts(), policy)


def prepare(
    messages: list[Any],
    *,
    key: bytes,
    source_id: str,
    received_at_us: int,
    batch_context: dict[str, Any] | None = None,
    batch_integrations: dict[str, Any] | None = None,
    batch_sent_at: Any = None,
    client_ip: str | None = None,
    default_type: str | None = None,
    known_events: frozenset[str] | None = None,
    event_check: EventCheck | None = None,
    max_event_bytes: int | None = None,
    policy: FieldPolicy | None = None,
    consent: ConsentGate | None = None,
    out: Prepared | None = None,
) -> Prepared:
    """Mask and validate messages (``batch_context`` must already be masked).

    ``policy``: the PII field policy (default: the built-in one).
    ``consent``: the consent gate; consent messages update it (in message order) and add a
    ``consent`` record, and records of identities it does not allow are dropped (counted).
    ``max_event_bytes``: a message whose JSON is larger is quarantined (``event_too_large``).
    Pass it only when some message can be that large (e.g. the request body is larger).
    """
    result = out if out is not None else Prepared()
    records = result.records
    counts = result.masked
    for index, raw in enumerate(messages):
        if isinstance(raw, dict):
            masked, _ = mask_message(raw, key, counts, policy)
        else:
            masked = mask_value(raw, counts)
        if max_event_bytes is not None and len(orjson.dumps(raw)) > max_event_bytes:
            mid = raw.get("messageId") if isinstance(raw, dict) else None
            outcome: dict[str, Any] | Rejection = Rejection(
                EVENT_TOO_LARGE,
                f"event is larger than {max_event_bytes} bytes of JSON",
                mid if isinstance(mid, str) and len(mid) < 200 else None,
            )
        else:
            outcome = normalize(
                masked,
                received_at_us=received_at_us,
                source_id=source_id,
                batch_context=batch_context,
                batch_integrations=batch_integrations,
                batch_sent_at=batch_sent_at,
                client_ip=client_ip,
                default_type=default_type,
                known_events=known_events,
                event_check=event_check,
            )
        if isinstance(outcome, Rejection):
            if (
                consent is not None
                and isinstance(masked, dict)
                and not consent.allows(
                    identity_key(masked.get("userId"), masked.get("anonymousId"))
                )
            ):
                result.consent_dropped += 1
                continue
            records.append(
                (
                    QUARANTINE,
                    quarantine_row(
                        masked, outcome, received_at_us=received_at_us, source_id=source_id
                    ),
                )
            )
            result.quarantined += 1
            result.errors.append(
                {
                    "index": index,
                    "messageId": outcome.message_id,
                    "code": outcome.reason,
                    "message": outcome.message,
                }
            )
        else:
            if consent is not None:
                mtype = outcome["type"]
                if mtype == "identify" or (mtype == "track" and outcome["event"] == CONSENT_EVENT):
                    change = consent_change(masked)
                    if change is not None:
                        consent.apply(change)
                        result.consent_changes.append(change)
                        records.append((CONSENT, ledger_row(change, outcome, mtype)))
                # inlined ConsentGate.allows(identity_key(...)): this runs for every event
                who = outcome["user_id"] or outcome["anonymous_id"]
                if not (consent.analytics.get(who, consent.default) if who else consent.default):
                    result.consent_dropped += 1
                    continue
            records.append((EVENT, outcome))
            result.accepted += 1
    return result
