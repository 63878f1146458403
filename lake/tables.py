"""Arrow schemas of the bronze Delta tables: the contract between the collector and dbt.

Nested Segment objects (context, properties, traits, integrations) are stored as JSON text: the
schema of the table stays fixed while event payloads evolve, and dbt extracts what each model needs.
Timestamps are UTC, microsecond precision.
"""

from __future__ import annotations

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

# bronze/events, partitioned by event_date (the UTC date of the skew-corrected timestamp).
EVENTS_SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),  # track|identify|page|screen|group|alias
        pa.field("event", pa.string()),  # track: event name
        pa.field("name", pa.string()),  # page/screen: name
        pa.field("user_id", pa.string()),
        pa.field("anonymous_id", pa.string()),
        pa.field("group_id", pa.string()),
        pa.field("previous_id", pa.string()),
        pa.field("timestamp", UTC_TS, nullable=False),  # receivedAt - (sentAt - originalTimestamp)
        pa.field("original_timestamp", UTC_TS),  # the client's clock
        pa.field("sent_at", UTC_TS),
        pa.field("received_at", UTC_TS, nullable=False),
        pa.field("context", pa.string()),  # JSON, PII already masked
        pa.field("properties", pa.string()),  # JSON
        pa.field("traits", pa.string()),  # JSON, PII already masked
        pa.field("integrations", pa.string()),  # JSON
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("collector_id", pa.string(), nullable=False),
        pa.field("sequence", pa.int64(), nullable=False),  # monotonic per collector
        pa.field("event_date", pa.date32(), nullable=False),
    ]
)
EVENTS_PARTITION_BY = ["event_date"]

# bronze/quarantine: events that failed validation, with the reason, payload PII-masked.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("payload", pa.string(), nullable=False),  # JSON text, PII masked
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("collector_id", pa.string(), nullable=False),
        pa.field("received_at", UTC_TS, nullable=False),
        pa.field("received_date", pa.date32(), nullable=False),
    ]
)
QUARANTINE_PARTITION_BY = ["received_date"]

# bronze/consent: the append-only consent ledger (lake/consent.py), one row per consent message.
# A category is null when the message left it unchanged. Never updated: history is the table.
CONSENT_SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string()),
        pa.field("anonymous_id", pa.string()),
        pa.field("analytics", pa.bool_()),
        pa.field("marketing", pa.bool_()),
        pa.field("personalization", pa.bool_()),
        pa.field("source", pa.string(), nullable=False),  # track (Consent Updated) | identify
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("effective_at", UTC_TS, nullable=False),  # the message's (skew-corrected) time
        pa.field("received_at", UTC_TS, nullable=False),
        pa.field("collector_id", pa.string(), nullable=False),
        pa.field("sequence", pa.int64(), nullable=False),  # write order per collector
    ]
)

BRONZE_TABLES = {
    "events": (EVENTS_SCHEMA, EVENTS_PARTITION_BY),
    "quarantine": (QUARANTINE_SCHEMA, QUARANTINE_PARTITION_BY),
    "consent": (CONSENT_SCHEMA, []),
}
