{#- A full table, not daily-incremental: a day's row mixes event dates with the quarantine's
    wall-clock receipt dates, so the newest row says nothing about which event days are complete.
    It joins two small per-day aggregates (the events side is daily-incremental:
    int_ingestion_daily), cheap to rebuild. -#}
{{ config(materialized='table') }}

{%- set has_quarantine = bronze_table_exists('quarantine') %}

with

ingestion as (

    -- Rows landed, distinct messages and lag per event date (daily-incremental).
    select * from {{ ref('int_ingestion_daily') }}

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
        coalesce(ingestion.event_date, quarantine.received_date) as health_date,
        coalesce(ingestion.rows_landed, 0) as rows_landed,
        coalesce(ingestion.distinct_messages, 0) as distinct_messages,
        coalesce(ingestion.rows_landed, 0) - coalesce(ingestion.distinct_messages, 0)
            as duplicate_rows,
        coalesce(quarantine.quarantined, 0) as quarantined,
        coalesce(quarantine.quarantine_reasons, 0) as quarantine_reasons,
        coalesce(quarantine.quarantined, 0)
            / nullif(coalesce(ingestion.rows_landed, 0) + coalesce(quarantine.quarantined, 0), 0)
            as quarantine_share,
        ingestion.p50_ingestion_lag_seconds,
        ingestion.p99_ingestion_lag_seconds,
        ingestion.max_ingestion_lag_seconds,
        coalesce(ingestion.late_events, 0) as late_events,
        coalesce(ingestion.late_event_share, 0) as late_event_share,
        {{ 'true' if has_quarantine else 'false' }} as quarantine_table_exists
    from ingestion
    full outer join quarantine on ingestion.event_date = quarantine.received_date

)

select * from final
