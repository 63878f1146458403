"""Today so far: the user-level marts rebuilt from bronze for the days gold does not cover yet.

The published history ends on the publication's last event day; events the collector has landed
since are in ``bronze/events`` (Delta). :class:`LiveDB` serves the two relations the live metrics
read under their dbt names, so the *same* MetricFlow SQL runs over them:

- ``fct_user_daily``: the published rows before the live window, plus the live days computed from
  bronze the way the mart computes them (the app's events only, as in stg_events: not the
  dashboards' own usage; deduplicated on message_id, activity events of identified users,
  workouts, signed revenue summed as decimals). ``sessions`` is null on live rows
  (sessionization stays in dbt), so session metrics are not live.
- ``dim_users``: the published users, with a signup date for those whose first ``Signed Up`` is in
  the live window, plus users first seen there (platform and acquisition channel from their
  signup event; plan and country unknown until the next publication).
- the time spine: the publication's days through the end of the live window, so WAU/MAU windows
  reach back into the published history.

The event lists (which events are activity, which carry revenue) are read from the dbt project's
own macros (``macros/event_catalog.sql``, via ``target/manifest.json``): one definition for dbt and
for this module. ``tests/analytics`` rebuilds a published day from bronze and requires the same
values as the marts.

The live window is the days after the publication's last day, up to today (UTC), at most
``max_days``; when the publication already reaches today (a partial day), today is recomputed
from bronze and the published row of today is ignored.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from analytics.publication import CatalogDB, PublicationDB, quote_text, time_spine_sql
from analytics.semantic import REPO_DIR, Relation
from lake.tables import EVENTS_SCHEMA

DEFAULT_DBT_MANIFEST = REPO_DIR / "dbt_project" / "target" / "manifest.json"
LIVE_MARTS = ("fct_user_daily", "dim_users")
BRONZE_COLUMNS = (
    "message_id",
    "type",
    "event",
    "name",
    "user_id",
    "anonymous_id",
    "timestamp",
    "received_at",
    "collector_id",
    "sequence",
    "context",
    "properties",
    "event_date",
)


class LiveError(RuntimeError):
    """The live path cannot be built (e.g. the dbt manifest lacks the event catalog)."""


@dataclass(frozen=True)
class EventCatalog:
    """The event lists of ``dbt_project/macros/event_catalog.sql``."""

    activity_event_types: tuple[str, ...]
    non_activity_events: tuple[str, ...]
    non_activity_anonymous_ids: tuple[str, ...]
    subscription_revenue_events: tuple[str, ...]
    program_purchase_events: tuple[str, ...]
    refund_events: tuple[str, ...]
    # Pulse's own senders (the dashboards): not the app's events, left out as stg_events does.
    internal_anonymous_ids: tuple[str, ...] = ()

    @property
    def gross_revenue_events(self) -> tuple[str, ...]:
        return self.subscription_revenue_events + self.program_purchase_events

    @classmethod
    def from_dbt_manifest(cls, path: Path | None = None, project: str = "pulse") -> EventCatalog:
        path = Path(path or DEFAULT_DBT_MANIFEST)
        try:
            macros = json.loads(path.read_text())["macros"]
        except FileNotFoundError:
            raise LiveError(f"no dbt manifest at {path}: run `pulse prepare`") from None

        def values(name: str) -> tuple[str, ...]:
            macro = macros.get(f"macro.{project}.{name}")
            if macro is None:
                raise LiveError(f"the dbt manifest has no macro {name} (macros/event_catalog.sql)")
            match = re.search(r"return\(\s*(\[.*?\])\s*\)", macro["macro_sql"], re.DOTALL)
            if match is None:
                raise LiveError(
                    f"macro {name} does not return a literal list; the live path reads "
                    "macros/event_catalog.sql's lists literally"
                )
            parsed = ast.literal_eval(match.group(1))
            if not all(isinstance(v, str) for v in parsed):
                raise LiveError(f"macro {name} returns non-text values: {parsed!r}")
            return tuple(parsed)

        return cls(
            activity_event_types=values("activity_event_types"),
            non_activity_events=values("non_activity_events"),
            non_activity_anonymous_ids=values("non_activity_anonymous_ids"),
            subscription_revenue_events=values("subscription_revenue_events"),
            program_purchase_events=values("program_purchase_events"),
            refund_events=values("refund_events"),
            internal_anonymous_ids=values("internal_anonymous_ids"),
        )


def sql_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(quote_text(v) for v in values) + ")"


def live_window(
    coverage_end: dt.date | None, today: dt.date, max_days: int = 7
) -> tuple[dt.date, dt.date] | None:
    """(first, last) day answered from bronze, or None when gold is ahead of the clock."""
    if coverage_end is None:
        start = today - dt.timedelta(days=max_days - 1)
    elif coverage_end >= today:
        if coverage_end > today:
            return None
        start = today  # a partial today in gold: recomputed from bronze
    else:
        start = max(coverage_end + dt.timedelta(days=1), today - dt.timedelta(days=max_days - 1))
    return (start, today)


def read_bronze_events(path: Path, start: dt.date, end: dt.date) -> tuple[pa.Table, int | None]:
    """Bronze events of ``start .. end`` (partition-pruned) and the table's Delta version."""
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(str(path)):
        schema = pa.schema([EVENTS_SCHEMA.field(c) for c in BRONZE_COLUMNS])
        return schema.empty_table(), None
    table = DeltaTable(str(path))
    dataset = table.to_pyarrow_dataset()
    flt = (ds.field("event_date") >= pa.scalar(start, pa.date32())) & (
        ds.field("event_date") <= pa.scalar(end, pa.date32())
    )
    data = dataset.to_table(columns=list(BRONZE_COLUMNS), filter=flt)
    # delta-rs rewrites may store strings as string_view (STACK_NOTES): normalize.
    data = data.cast(
        pa.schema(
            [
                pa.field(f.name, pa.string()) if pa.types.is_string_view(f.type) else f
                for f in data.schema
            ]
        )
    )
    return data, table.version()


def live_user_daily_sql(events: EventCatalog, source: str) -> str:
    """fct_user_daily's columns for the live days, from typed live events (``source``)."""
    activity = (
        f"(event_type in {sql_list(events.activity_event_types)} "
        f"and event_name not in {sql_list(events.non_activity_events)} "
        f"and coalesce(anonymous_id, '') not in {sql_list(events.non_activity_anonymous_ids)})"
    )
    signed = (
        f"case when event_name in {sql_list(events.gross_revenue_events)} then coalesce(revenue, 0) "
        f"when event_name in {sql_list(events.refund_events)} then -abs(coalesce(revenue, 0)) "
        "else 0 end"
    )
    return f"""
        with user_events as (
            select *, {activity} as is_activity, {signed} as signed_revenue
            from {source}
            where user_id is not null
        )
        select
            user_id,
            event_date as activity_date,
            count(*) filter (where is_activity) as events,
            cast(null as bigint) as sessions,
            count(*) filter (where is_activity and event_name = 'Workout Completed')
                as workouts_completed,
            count(*) filter (
                where is_activity and (event_type = 'screen' or event_name = 'Screen Viewed')
            ) as screens_viewed,
            count(*) filter (where is_activity and event_name = 'Recommendation Shown')
                as recommendations_shown,
            count(*) filter (where is_activity and event_name = 'Recommendation Accepted')
                as recommendations_accepted,
            cast(sum(cast(signed_revenue as decimal(38, 4))) as double) as revenue
        from user_events
        group by user_id, event_date
        having count(*) filter (where is_activity) > 0 or bool_or(signed_revenue <> 0)
    """


TYPED_EVENTS_SQL = """
    with deduplicated as (
        select * from bronze_live
        where coalesce(anonymous_id, '') not in {internal_ids}
        qualify row_number() over (
            partition by event_date, message_id order by received_at, collector_id, sequence
        ) = 1
    )
    select
        message_id,
        user_id,
        anonymous_id,
        type as event_type,
        case type
            when 'track' then coalesce(event, '(unnamed)')
            when 'screen' then 'screen:' || coalesce(name, '(unnamed)')
            when 'page' then 'page:' || coalesce(name, '(unnamed)')
            else type
        end as event_name,
        lower(coalesce(
            json_extract_string(context, '$.device.type'),
            json_extract_string(context, '$.os.name')
        )) as platform,
        try_cast(json_extract_string(properties, '$.revenue') as double) as revenue,
        context,
        properties,
        "timestamp" as event_at,
        received_at,
        event_date
    from deduplicated
"""


class LiveDB(CatalogDB):
    """fct_user_daily, dim_users and the time spine through the live window (see the module)."""

    def __init__(
        self,
        published: PublicationDB,
        relations: dict[str, Relation],
        events: EventCatalog,
        bronze: pa.Table,
        window: tuple[dt.date, dt.date],
        gold_dir: Path,
    ) -> None:
        super().__init__(relations)
        self.window = window
        start, end = window
        con = self.con
        con.register("bronze_live", bronze)
        internal_ids = sql_list(events.internal_anonymous_ids or ("",))
        con.execute(
            "CREATE TABLE live_events AS " + TYPED_EVENTS_SQL.format(internal_ids=internal_ids)
        )
        con.unregister("bronze_live")
        con.execute(f"CREATE TABLE live_user_daily AS {live_user_daily_sql(events, 'live_events')}")
        self.events_through: dt.datetime | None = con.execute(
            "SELECT max(received_at) FROM live_events"
        ).fetchall()[0][0]
        self.event_count: int = con.execute("SELECT count(*) FROM live_events").fetchall()[0][0]
        pub = published.publication
        by_alias = {r.alias: r for r in relations.values() if not r.is_time_spine}
        if "fct_user_daily" in by_alias and "fct_user_daily" in pub.models:
            path = quote_text(str(pub.path / "fct_user_daily.parquet"))
            self.create_view(
                by_alias["fct_user_daily"],
                f"SELECT * FROM read_parquet({path}) WHERE activity_date < DATE "
                f"'{start.isoformat()}' UNION ALL BY NAME SELECT * FROM live_user_daily",
            )
        if "dim_users" in by_alias and "dim_users" in pub.models:
            path = quote_text(str(pub.path / "dim_users.parquet"))
            system_ids = sql_list(events.non_activity_anonymous_ids)
            con.execute(
                f"""CREATE TABLE live_signups AS
                select
                    user_id,
                    min(event_at) as signed_up_at,
                    arg_min(coalesce(
                        json_extract_string(properties, '$.acquisition_channel'),
                        json_extract_string(properties, '$.channel'),
                        json_extract_string(context, '$.campaign.source')
                    ), event_at) as acquisition_channel,
                    arg_min(platform, event_at) as platform
                from live_events
                where user_id is not null and event_name = 'Signed Up'
                    and coalesce(anonymous_id, '') not in {system_ids}
                group by user_id"""
            )
            self.create_view(
                by_alias["dim_users"],
                f"""
                SELECT p.* EXCLUDE (signed_up_at, signup_date),
                    coalesce(p.signed_up_at, s.signed_up_at) AS signed_up_at,
                    coalesce(p.signup_date, cast(s.signed_up_at AS date)) AS signup_date
                FROM read_parquet({path}) p LEFT JOIN live_signups s USING (user_id)
                UNION ALL BY NAME
                SELECT s.user_id, s.signed_up_at, cast(s.signed_up_at AS date) AS signup_date,
                    s.acquisition_channel, s.platform
                FROM live_signups s ANTI JOIN read_parquet({path}) p USING (user_id)
                """,
            )
        spine = next((r for r in relations.values() if r.is_time_spine), None)
        if spine is not None:
            first = published.coverage[0] if published.coverage else start
            self.create_view(spine, time_spine_sql(spine, min(first, start), end))
        self.lock_down([gold_dir])
