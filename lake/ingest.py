"""Bulk loading of history: the collector's normalization, written straight to Delta.

No WAL: the source data is durable, so a failed load is simply re-run (``message_id`` duplicates
across loads are removed downstream by dbt, as for SDK retries). Within one load, repeated
``messageId``s are dropped and counted. The consent gate is the collector's: it starts from the
ledger, consent messages update it in file order and go to ``bronze/consent`` (audited), and
events of users without analytics consent are dropped and counted. Rows go to Delta in commits of ``chunk_size`` (commit size
dominates Delta append throughput).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.pii_policy import load_policy
from core.settings import Settings
from lake.consent import CONSENT, audit_changes, rebuild_gate
from lake.pipeline import EVENT, Prepared, prepare
from lake.privacy import key_bytes
from lake.tables import CONSENT_SCHEMA, EVENTS_SCHEMA, QUARANTINE_SCHEMA
from lake.validation import parse_timestamp_us, to_us
from lake.writer import DeltaSink, rows_to_table

BULK_COLLECTOR_ID = "bulk"


@dataclass(frozen=True, slots=True)
class IngestReport:
    accepted: int
    quarantined: int
    duplicates_dropped: int
    seconds: float
    consent_dropped: int = 0
    consent_changes: int = 0

    @property
    def rows_per_second(self) -> float:
        total = self.accepted + self.quarantined + self.duplicates_dropped
        return total / self.seconds if self.seconds else 0.0


def bulk_load(
    messages: Iterable[dict[str, Any]],
    settings: Settings,
    source_id: str,
    received_at: datetime | None = None,
    chunk_size: int = 100_000,
) -> IngestReport:
    """Mask, validate and append messages to ``bronze.events`` / ``bronze.quarantine``.

    ``received_at``: when given, stamps every message; otherwise a message's own ``receivedAt``
    is used if it parses, else the load's start time. ``collector_id`` is ``"bulk"`` and
    ``sequence`` continues from a time-based base (monotonic across successive loads).
    """
    started = time.perf_counter()
    key = key_bytes(settings.pii_hmac_key)
    policy = load_policy(settings.pii_policy_path)
    gate = rebuild_gate(settings)
    sink = DeltaSink(settings)
    fixed_us = to_us(received_at) if received_at is not None else None
    now_us = time.time_ns() // 1000
    sequence = now_us * 1000  # room for 1000 rows per microsecond of wall time between loads
    seen: set[str] = set()
    seen_consent: set[str] = set()
    accepted = quarantined = duplicates = consent_dropped = consent_changes = 0

    def flush(prepared: Prepared) -> None:
        nonlocal sequence, accepted, quarantined, duplicates, consent_dropped, consent_changes
        events: list[dict[str, Any]] = []
        bad: list[dict[str, Any]] = []
        ledger: list[dict[str, Any]] = []
        for kind, row in prepared.records:
            row["collector_id"] = BULK_COLLECTOR_ID
            if kind == CONSENT:
                if row["message_id"] in seen_consent:
                    continue
                seen_consent.add(row["message_id"])
                row["sequence"] = sequence
                sequence += 1
                ledger.append(row)
            elif kind == EVENT:
                mid = row["message_id"]
                if mid in seen:
                    duplicates += 1
                    continue
                seen.add(mid)
                row["sequence"] = sequence
                sequence += 1
                events.append(row)
            else:
                bad.append(row)
        if events:
            sink.append("events", rows_to_table(events, EVENTS_SCHEMA))
        if bad:
            sink.append("quarantine", rows_to_table(bad, QUARANTINE_SCHEMA))
        if ledger:
            sink.append("consent", rows_to_table(ledger, CONSENT_SCHEMA))
            audit_changes(settings, ledger, actor=f"bulk:{source_id}")
        accepted += len(events)
        quarantined += len(bad)
        consent_dropped += prepared.consent_dropped
        consent_changes += len(ledger)

    prepared = Prepared()
    pending = 0
    for msg in messages:
        if fixed_us is not None:
            rec_us = fixed_us
        else:
            rec_us = now_us
            raw = msg.get("receivedAt") if isinstance(msg, dict) else None
            if raw:
                try:
                    rec_us = parse_timestamp_us(raw, "receivedAt") or now_us
                except Exception:  # an unparsable receivedAt only loses the hint
                    rec_us = now_us
        prepare(
            [msg],
            key=key,
            source_id=source_id,
            received_at_us=rec_us,
            policy=policy,
            consent=gate,
            out=prepared,
        )
        pending += 1
        if pending >= chunk_size:
            flush(prepared)
            prepared = Prepared()
            pending = 0
    if pending:
        flush(prepared)
    return IngestReport(
        accepted,
        quarantined,
        duplicates,
        time.perf_counter() - started,
        consent_dropped=consent_dropped,
        consent_changes=consent_changes,
    )
