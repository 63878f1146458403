"""The results of a run: the ground truth (what really happened, written to ``ground_truth.json``)
and the app database's snapshots (users, programs, trainers, plans)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from lake.simulator import catalog as C
from lake.simulator.engine.clock import DAY_MS
from lake.simulator.engine.recommender import MODEL_QUALITY


@dataclass
class GroundTruth:
    """What really happened; written to ``ground_truth.json``."""

    data: dict[str, Any]


class Truth:
    """Results (methods of :class:`~lake.simulator.engine.simulation.Simulation`)."""

    def ground_truth(self) -> dict[str, Any]:
        if not self._finished:
            raise RuntimeError("ground truth is known only after the simulation ran")
        exposed = [u for u in self.users if u.exposure_day is not None]
        last_full = self.n_days - 15  # exposure on or before this day has a full 14-day window
        arms: dict[str, Counter[str]] = {v: Counter() for v in C.EXPERIMENT_VARIANTS}
        for u in exposed:
            if u.exposure_day <= last_full:
                arms[u.variant]["exposed"] += 1
                arms[u.variant]["converted"] += u.conv_day is not None
        models = [
            {"model_version": "recsys-v1.4", "event": "deployed before window", "at": None}
        ] + [
            {"model_version": v, "event": kind, "previous_version": prev, "at": self._iso(ms)}
            for ms, kind, v, prev in self._models
        ]
        acceptance = {
            v: {
                "shown": c["shown"],
                "acceptance_rate": round(c["accepted"] / c["shown"], 4) if c["shown"] else None,
                "true_acceptance_multiplier": MODEL_QUALITY[v][0],
                "safety_flag_rate": MODEL_QUALITY[v][1],
            }
            for v, c in self.model_outcomes.items()
        }
        without_id = sum(1 for m in self.malformed if m["message_id"] is None)
        return {
            "config": self.cfg.to_json(),
            "start_date": self.start.isoformat(),
            "end_date": self.cfg.resolved_end_date.isoformat(),
            "generated_by": "lake.simulator",
            "user_count": len(self.users),
            "existing_user_count": sum(1 for u in self.users if u.signup_day < 0),
            "new_user_count": sum(1 for u in self.users if u.signup_day >= 0),
            "churned_users": {
                u.user_id: self._date(u.churn_day) for u in self.users if u.churn_day is not None
            },
            "churn_definition": "the user left on churn_date: a paying user's Subscription "
            "Cancelled may be sent that day, nothing is sent after it",
            "experiment": {
                "name": C.EXPERIMENT_NAME,
                "variants": list(C.EXPERIMENT_VARIANTS),
                "assignment": "sha256('onboarding_v2:' + user_id)[0] & 1 -> control/treatment",
                "true_effect": self.cfg.experiment_effect,
                "metric": "converted_within_14d",
                "metric_definition": "first Program Purchased or Subscription Started within 14 "
                "days (336 h) of Experiment Exposed; only exposures with a full 14-day window",
                "exposed_users": {
                    u.user_id: {"variant": u.variant, "exposed_on": self._date(u.exposure_day)}
                    for u in exposed
                },
                "arms_full_window": {
                    v: {
                        "exposed": c["exposed"],
                        "converted": c["converted"],
                        "rate": round(c["converted"] / c["exposed"], 4) if c["exposed"] else None,
                    }
                    for v, c in arms.items()
                },
            },
            "models": models,
            "model_acceptance": acceptance,
            "worse_model_version": "recsys-v1.5",
            "message_counts": {
                "rows": self.rows,
                "unique_message_ids": self.rows - len(self.duplicate_ids) - without_id,
                "well_formed_unique": sum(self.type_counts.values()),
                "duplicates": len(self.duplicate_ids),
                "late": len(self.late_ids),
                "malformed": len(self.malformed),
                "malformed_without_message_id": without_id,
                "dropped_by_incident": self.dropped,
                "consent_dropped": len(set(self.consent_dropped_ids)),
            },
            "consent": {
                "definition": "users who withdrew analytics consent (Consent Updated, all "
                "categories false, at the start of a day) and maybe re-granted it later (identify "
                "with traits.consent); the collector drops every message of theirs processed in "
                "between (send order): dropped_message_ids, and malformed ones marked "
                "consent_dropped. Revenue, model_acceptance and arms count only what is stored; "
                "model_acceptance only recommendations shown with personalization consent",
                "changes": self.consent_changes,
                "withdrawn_users": sorted({c["user_id"] for c in self.consent_changes}),
                "dropped_message_ids": list(dict.fromkeys(self.consent_dropped_ids)),
            },
            "duplicate_message_ids": self.duplicate_ids,
            "late_message_ids": self.late_ids,
            "malformed_message_ids": [m["message_id"] for m in self.malformed if m["message_id"]],
            "malformed": self.malformed,
            "pii_in_free_text_message_ids": self.pii_ids,
            "pii_in_free_text_kinds": dict(sorted(self.pii_kinds.items())),
            "event_counts": dict(sorted(self.event_counts.items())),
            "type_counts": dict(sorted(self.type_counts.items())),
            "session_count": self.sessions,
            "session_definition": "client (mobile SDK) messages of one anonymousId with gaps "
            "< 30 min; sessions are > 30 min apart; server-side messages are not in sessions",
            "revenue_usd": {k: round(v, 2) for k, v in sorted(self.revenue.items())},
            "incidents": (
                [
                    {
                        "kind": "volume_drop",
                        "date": self.cfg.volume_drop_date.isoformat(),
                        "fraction": self.cfg.volume_drop_fraction,
                        "dropped_messages": self.dropped,
                    }
                ]
                if self.cfg.volume_drop_date
                else []
            ),
        }

    def users_table(self) -> pa.Table:
        end_ms = self.start_ms + self.n_days * DAY_MS
        rows = [u for u in self.users if u.signup_ms < end_ms]
        return pa.table(
            {
                "user_id": [u.user_id for u in rows],
                "anonymous_id": [u.anon_id for u in rows],
                "signup_at": pa.array(
                    [datetime.fromtimestamp(u.signup_ms / 1000, UTC) for u in rows],
                    pa.timestamp("ms", tz="UTC"),
                ),
                "acquisition_channel": [u.channel for u in rows],
                "platform": [u.platform for u in rows],
                "country": [u.country for u in rows],
                "locale": [u.locale for u in rows],
                "age_band": [u.age_band for u in rows],
                "fitness_goal": [u.goal for u in rows],
                "plan": [u.plan for u in rows],
                "status": ["churned" if u.churn_day is not None else "active" for u in rows],
            }
        )

    def catalog_tables(self) -> dict[str, pa.Table]:
        plans = [
            {k: p[k] for k in ("plan_id", "name", "monthly_price", "billing_period")}
            for p in C.PLANS.values()
        ]
        return {
            "programs": pa.Table.from_pylist(self.catalog.programs),
            "trainers": pa.Table.from_pylist(self.catalog.trainers),
            "plans": pa.Table.from_pylist(plans),
        }
