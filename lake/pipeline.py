"""The one normalization path shared by the HTTP collector and the bulk loader.

mask PII → validate/normalize → a WAL/Delta record: ``("event", row)`` or ``("quarantine", row)``.
Pure (no I/O), so both paths produce identical rows for identical input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lake.privacy import MaskCounts, mask_context, mask_message, mask_value
from lake.validation import Rejection, normalize, quarantine_row

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


def mask_batch_envelope(
    context: Any, key: bytes, counts: MaskCounts | None = None
) -> dict[str, Any] | None:
    """Mask a batch-level context once (it is merged into every message afterwards)."""
    if not isinstance(context, dict):
        return None
    return mask_context(context, key, counts if counts is not None else MaskCounts())


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
    out: Prepared | None = None,
) -> Prepared:
    """Mask and validate messages (``batch_context`` must already be masked)."""
    result = out if out is not None else Prepared()
    records = result.records
    counts = result.masked
    for index, raw in enumerate(messages):
        if isinstance(raw, dict):
            masked, _ = mask_message(raw, key, counts)
        else:
            masked = mask_value(raw, counts)
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
        )
        if isinstance(outcome, Rejection):
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
            records.append((EVENT, outcome))
            result.accepted += 1
    return result
