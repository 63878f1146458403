{#- A full table, not daily-incremental: a day's row mixes event dates with the quarantine's
    wall-clock receipt dates, so the newest row says nothing about which event days are complete.
    It is one small aggregate per day, cheap to rebuild. -#}
{{ config(materialized='table') }}

{%- set has_quarantine = bronze_table_exists('quarantine') %}

with

bronze_events as (

    -- Bronze rows per day = distinct messages + their resends (stg_events keeps the count), so
    -- bronze/events is read once per run, by stg_events.
    select
        event_date,
        sum(received_copies) as rows_landed,
        count(*) as distinct_messages
    from {{ ref('stg_events') }}
    group by event_date

),

events as (

    -- Lag of each distinct message: first receipt − skew-corrected event time.
    select
        event_date,
        date_diff('millisecond', event_at, received_at) / 1000.0 as lag_seconds
    from {{ ref('stg_events') }}

),

lag as (

    select
        event_date,
        quantile_cont(lag_seconds, 0.50) as p50_ingestion_lag_seconds,
        quantile_cont(lag_seconds, 0.99) as p99_ingestion_lag_seconds,
        max(lag_seconds) as max_ingestion_lag_seconds,
        count(*) filter (where lag_seconds > 86400) as late_events,
        count(*) filter (where lag_seconds > 86400) / count(*) as late_event_share
    from events
    group by event_date

),

quarantine as (

{%- if has_quarantine %}
    select
        received_date,
        count(*) as quarantined,
        count(distinct reason) as quarantine_reasons
    from {{ source('lake', 'quarantine') }}
    group by received_date
{%- else %}
    -- bronze/quarantine does not exist yet (no message was ever rejected): nothing quarantined.
    select
        cast(null as date) as received_date,
        cast(0 as bigint) as quarantined,
        cast(0 as bigint) as quarantine_reasons
    where false
{%- endif %}

),

final as (

    select
        coalesce(bronze_events.event_date, quarantine.received_date) as health_date,
        coalesce(bronze_events.rows_landed, 0) as rows_landed,
        coalesce(bronze_events.distinct_messages, 0) as distinct_messages,
        coalesce(bronze_events.rows_landed, 0) - coalesce(bronze_events.distinct_messages, 0)
            as duplicate_rows,
        coalesce(quarantine.quarantined, 0) as quarantined,
        coalesce(quarantine.quarantine_reasons, 0) as quarantine_reasons,
        coalesce(quarantine.quarantined, 0)
            / nullif(coalesce(bronze_events.rows_landed, 0) + coalesce(quarantine.quarantined, 0), 0)
            as quarantine_share,
        lag.p50_ingestion_lag_seconds,
        lag.p99_ingestion_lag_seconds,
        lag.max_ingestion_lag_seconds,
        coalesce(lag.late_events, 0) as late_events,
        coalesce(lag.late_event_share, 0) as late_event_share,
        {{ 'true' if has_quarantine else 'false' }} as quarantine_table_exists
    from bronze_events
    full outer join quarantine on bronze_events.event_date = quarantine.received_date
    left join lag on lag.event_date = bronze_events.event_date

)

select * from final
