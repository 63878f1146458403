"""Suites on the collector's bronze Delta tables, run on their newest partitions only (the check
reads the last few ``event_date`` / ``received_date`` partitions, so it stays fast at 10M events).

Bronze is raw by design: it keeps the simulator's (and real apps') duplicates and late events, so
uniqueness here is a warning with a tolerance; dbt's staging dedupes. The contract with dbt (the
schema, the non-null envelope fields, the event types) is an error.
"""

from __future__ import annotations

from lake import validation
from lake.tables import EVENTS_SCHEMA, QUARANTINE_SCHEMA
from quality.gx_suites import ExpectationGroup, Suite
from quality.suites._common import between, columns, in_set, not_null, rows

# The reason codes lake.validation stamps on quarantine rows (stable: alerts group by them).
QUARANTINE_REASONS = frozenset(
    {
        validation.NOT_AN_OBJECT,
        validation.INVALID_TYPE,
        validation.MISSING_IDENTITY,
        validation.MISSING_EVENT,
        validation.MISSING_GROUP_ID,
        validation.MISSING_PREVIOUS_ID,
        validation.MISSING_USER_ID,
        validation.INVALID_TIMESTAMP,
        validation.INVALID_FIELD,
        validation.INVALID_MESSAGE_ID,
        validation.UNKNOWN_EVENT,
        validation.SCHEMA_VIOLATION,
        validation.EVENT_TOO_LARGE,
    }
)
# Below this share of distinct message_ids something upstream replays whole batches.
MIN_UNIQUE_MESSAGE_SHARE = 0.9


def _unique_message_share():
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnProportionOfUniqueValuesToBeBetween(
            column="message_id", min_value=MIN_UNIQUE_MESSAGE_SHARE, max_value=1
        )
    ]


def bronze_suites() -> list[Suite]:
    return [
        Suite(
            name="bronze.events",
            table="events",
            recent_column="event_date",
            groups=(
                ExpectationGroup(
                    "schema", "error", lambda: columns(EVENTS_SCHEMA.names, exact=True)
                ),
                ExpectationGroup(
                    "envelope",
                    "error",
                    lambda: [
                        *not_null(
                            "message_id",
                            "type",
                            "timestamp",
                            "received_at",
                            "source_id",
                            "event_date",
                        ),
                        *in_set("type", validation.EVENT_TYPES),
                    ],
                ),
                ExpectationGroup(
                    "volume_and_ranges",
                    "warn",
                    lambda: [*rows(1), *between("sequence", low=0), *_unique_message_share()],
                ),
            ),
        ),
        Suite(
            name="bronze.quarantine",
            table="quarantine",
            recent_column="received_date",
            groups=(
                ExpectationGroup(
                    "schema", "error", lambda: columns(QUARANTINE_SCHEMA.names, exact=True)
                ),
                ExpectationGroup(
                    "reasons",
                    "error",
                    lambda: [
                        *not_null("reason", "payload", "received_at", "received_date"),
                        *in_set("reason", QUARANTINE_REASONS),
                    ],
                ),
            ),
        ),
    ]
