"""Suites on dbt's staging models (``stg_*``), read from the warehouse before publication.

Staging is where bronze is deduplicated and typed, so a duplicated ``message_id`` or an untyped
key here is an error; value ranges are warnings. The daily models are validated on their newest
days only (``recent_column``); the app snapshots whole (they are small).
"""

from __future__ import annotations

from lake.validation import EVENT_TYPES
from quality.gx_suites import ExpectationGroup, Suite
from quality.suites._common import between, in_set, not_null, rows, share, unique


def _event_model(name: str, required: tuple[str, ...], ranges=None) -> Suite:
    groups = [
        ExpectationGroup(
            "keys",
            "error",
            lambda: [
                *not_null("message_id", "event_at", "event_date", *required),
                *unique("message_id"),
            ],
        ),
    ]
    if ranges is not None:
        groups.append(ExpectationGroup("ranges", "warn", ranges))
    return Suite(
        name=f"staging.{name}", table=name, recent_column="event_date", groups=tuple(groups)
    )


def _snapshot(name: str, key: str, ranges=None) -> Suite:
    groups = [
        ExpectationGroup("keys", "error", lambda: [*not_null(key), *unique(key), *rows(1)]),
    ]
    if ranges is not None:
        groups.append(ExpectationGroup("ranges", "warn", ranges))
    return Suite(name=f"staging.{name}", table=name, groups=tuple(groups))


def staging_suites() -> list[Suite]:
    return [
        _event_model(
            "stg_events",
            ("event_type", "received_at"),
            lambda: [*in_set("event_type", EVENT_TYPES), *rows(1)],
        ),
        _event_model(
            "stg_marketplace_events",
            ("event_name",),
            lambda: [*between("amount", "list_price"), *share("commission_rate")],
        ),
        _event_model(
            "stg_subscription_events",
            ("event_name",),
            lambda: [*between("amount", "attempt")],
        ),
        _event_model("stg_workout_events", (), lambda: [*between("duration_minutes", "calories")]),
        _event_model(
            "stg_recommendation_events",
            ("event_name",),
            lambda: [*between("rating", low=1, high=5), *between("position")],
        ),
        _event_model(
            "stg_api_requests",
            (),
            lambda: [*between("status_code", low=100, high=599), *between("latency_ms")],
        ),
        _snapshot("stg_app_users", "user_id"),
        _snapshot("stg_app_programs", "program_id", lambda: [*between("list_price")]),
        _snapshot("stg_app_trainers", "trainer_id", lambda: [*share("commission_rate")]),
        _snapshot("stg_app_plans", "plan_id", lambda: [*between("monthly_price")]),
    ]
