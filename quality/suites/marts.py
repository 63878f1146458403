"""Suites on the gold marts of every domain (core, revenue, marketplace, AI, experiments, system,
executive), read from the warehouse before publication.

Keys (not null, unique, present) and referential integrity of fact keys in their dimensions are
errors: a mart that breaks them is not published. Value ranges, accepted values and row-count
bounds are warnings: they flag a surprising day without holding back the marts.

Referential integrity needs the dimension keys (``dim_users.user_id`` ...): the caller reads the
dimensions and passes them as :class:`DimensionKeys`. The dimensions hold every member the events
mention: a user, program or trainer the app's export does not list yet is an inferred member
(late-arriving dimension member, reported by the warning check ``inferred_members``), so a key
missing from its dimension means a broken build, not a lagging export.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from quality.gx_suites import ExpectationGroup, Suite
from quality.suites._common import between, columns, in_set, not_null, rows, share, unique

# The tables whose keys the referential expectations need (read before the suites run).
DIMENSIONS = {"dim_users": "user_id", "dim_programs": "program_id", "dim_trainers": "trainer_id"}
REVENUE_STREAMS = ("subscriptions", "program_sales")
LIFECYCLE_STAGES = ("never_active", "new", "active", "dormant", "churned")


@dataclass(frozen=True)
class DimensionKeys:
    users: Collection[str]
    programs: Collection[str]
    trainers: Collection[str]


def _in_dim(column: str, keys: Collection[str]) -> list:
    """Referential integrity: every non-null ``column`` value is a key of its dimension."""
    return in_set(column, keys)


def _suite(name: str, *groups: ExpectationGroup, recent: str | None = None) -> Suite:
    return Suite(name=f"marts.{name}", table=name, groups=groups, recent_column=recent)


def mart_suites(dims: DimensionKeys) -> list[Suite]:
    error, warn = "error", "warn"
    return [
        # core
        _suite(
            "dim_users",
            ExpectationGroup(
                "keys",
                error,
                lambda: [
                    *columns(("user_id", "signup_date", "acquisition_channel", "lifecycle_stage")),
                    *not_null("user_id"),
                    *unique("user_id"),
                    *rows(1),
                ],
            ),
            ExpectationGroup(
                "values",
                warn,
                lambda: [
                    *between("total_revenue", "active_days"),
                    *in_set("lifecycle_stage", LIFECYCLE_STAGES),
                    *not_null("lifecycle_stage"),
                ],
            ),
        ),
        _suite(
            "fct_sessions",
            ExpectationGroup(
                "keys",
                error,
                lambda: [
                    *not_null("session_id", "user_key", "session_start", "session_date"),
                    *unique("session_id"),
                    *_in_dim("user_id", dims.users),
                ],
            ),
            ExpectationGroup(
                "values",
                warn,
                lambda: [*between("duration_seconds"), *between("event_count", low=1), *rows(1)],
            ),
            recent="session_date",
        ),
        _suite(
            "fct_user_daily",
            ExpectationGroup(
                "keys",
                error,
                lambda: [
                    *not_null("user_id", "activity_date"),
                    *unique("user_id", "activity_date"),
                    *_in_dim("user_id", dims.users),
                ],
            ),
            # revenue is net of refunds (fct_user_daily.yml): a refund on a day without a
            # purchase makes it negative, so only the counts have a floor.
            ExpectationGroup("values", warn, lambda: [*between("events", "sessions")]),
            recent="activity_date",
        ),
        _suite(
            "fct_workouts",
            ExpectationGroup(
                "keys",
                error,
                lambda: [
                    *not_null("workout_attempt_id", "user_id"),
                    *unique("workout_attempt_id"),
                    *_in_dim("user_id", dims.users),
                    *_in_dim("program_id", dims.programs),
                ],
            ),
            ExpectationGroup("values", warn, lambda: [*between("duration_minutes", "calories")]),
        ),
        _suite(
            "dim_programs",
            ExpectationGroup(
                "keys",
                error,
                lambda: [
                    *not_null("program_id"),
                    *unique("program_id"),
                    *_in_dim("trainer_id", dims.trainers),
                ],
            ),
            ExpectationGroup(
                "values", warn, lambda: [*between("list_price"), *share("commission_rate")]
            ),
        ),
        # revenue
        _suite(
            "rev_daily_by_stream",
            ExpectationGroup(
                "keys",
                error,
                lambda: [
                    *not_null("revenue_date", "revenue_stream"),
                    *unique("revenue_date", "revenue_stream"),
                    *in_set("revenue_stream", REVENUE_STREAMS),
                ],
            ),
            ExpectationGroup(
                "values",
                warn,
                lambda: [*between("gross_revenue", "refunds", "payments", "paying_users")],
            ),
            recent="revenue_date",
        ),
        _suite(
            "rev_mrr_daily",
            ExpectationGroup("keys", error, lambda: [*not_null("mrr_date"), *unique("mrr_date")]),
            ExpectationGroup(
                "values", warn, lambda: [*between("mrr", "paying_subscribers"), *rows(1)]
            ),
        ),
        _suite(
            "rev_arpu_monthly",
            ExpectationGroup(
                "keys", error, lambda: [*not_null("revenue_month"), *unique("revenue_month")]
            ),
            ExpectationGroup(
                "values",
                warn,
                # arpu/arppu are net of refunds: a month of refunds may push them below zero
                lambda: [*between("paying_users"), *share("paying_share")],
            ),
        ),
        # marketplace
        _suite(
            "mkt_program_performance",
            ExpectationGroup(
                "keys",
                error,
                lambda: [
                    *not_null("program_id"),
                    *unique("program_id"),
                    *_in_dim("program_id", dims.programs),
                    *_in_dim("trainer_id", dims.trainers),
                ],
            ),
            ExpectationGroup(
                "values",
                warn,
                lambda: [
                    *share("conversion_rate", "refund_rate"),
                    *between("gross_revenue", "purchases"),
                ],
            ),
        ),
        _suite(
            "mkt_trainer_revenue",
            ExpectationGroup(
                "keys",
                error,
                lambda: [
                    *not_null("trainer_id", "revenue_month"),
                    *unique("trainer_id", "revenue_month"),
                    *_in_dim("trainer_id", dims.trainers),
                ],
            ),
            ExpectationGroup(
                "values", warn, lambda: [*between("gross_revenue", "trainer_payout", "purchases")]
            ),
        ),
        # AI
        _suite(
            "ai_recommendation_daily",
            ExpectationGroup("keys", error, lambda: [*not_null("activity_date", "model_version")]),
            ExpectationGroup(
                "values",
                warn,
                lambda: [
                    *between("shown", "accepted", "rejected", "modified"),
                    *share("acceptance_rate", "rejection_rate", "modification_rate"),
                    *between("avg_rating", low=1, high=5),
                ],
            ),
            recent="activity_date",
        ),
        _suite(
            "ai_model_deployments",
            ExpectationGroup(
                "keys",
                error,
                lambda: [*not_null("deployment_id", "model_version"), *unique("deployment_id")],
            ),
            ExpectationGroup(
                "values", warn, lambda: [*share("acceptance_rate"), *between("hours_live")]
            ),
        ),
        _suite(
            "ai_safety_flags_daily",
            ExpectationGroup("keys", error, lambda: [*not_null("flag_date", "flag_type")]),
            ExpectationGroup("values", warn, lambda: [*between("flags", "flagged_users", low=1)]),
            recent="flag_date",
        ),
        # experiments
        _suite(
            "exp_variant_summary",
            ExpectationGroup(
                "keys",
                error,
                lambda: [*not_null("experiment", "variant"), *unique("experiment", "variant")],
            ),
            ExpectationGroup(
                "values",
                warn,
                lambda: [*share("conversion_rate"), *between("exposed_users", "conversions")],
            ),
        ),
        _suite(
            "exp_user_outcomes",
            ExpectationGroup(
                "keys",
                error,
                lambda: [
                    *not_null("experiment", "variant", "user_id"),
                    *unique("experiment", "variant", "user_id"),
                    *_in_dim("user_id", dims.users),
                ],
            ),
            # revenue_14d is net of refunds (it may be negative); workouts cannot be
            ExpectationGroup("values", warn, lambda: [*between("workouts_14d")]),
        ),
        # system
        _suite(
            "sys_api_latency_hourly",
            ExpectationGroup(
                "keys",
                error,
                lambda: [
                    *not_null("request_date", "request_hour", "endpoint"),
                    *unique("request_date", "request_hour", "endpoint"),
                ],
            ),
            ExpectationGroup(
                "values",
                warn,
                lambda: [
                    *share("error_rate", "client_error_rate"),
                    *between("requests", "p50_latency_ms", "p99_latency_ms"),
                    *_latency_order(),
                ],
            ),
            recent="request_date",
        ),
        _suite(
            "sys_pipeline_health",
            ExpectationGroup(
                "keys", error, lambda: [*not_null("health_date"), *unique("health_date")]
            ),
            ExpectationGroup(
                "values",
                warn,
                lambda: [
                    *share("quarantine_share", "late_event_share"),
                    *between("rows_landed", "duplicate_rows"),
                ],
            ),
        ),
    ]


def _latency_order() -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="p99_latency_ms",
            column_B="p50_latency_ms",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
    ]
