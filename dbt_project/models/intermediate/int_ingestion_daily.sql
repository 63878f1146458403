{#- The bronze/events side of sys_pipeline_health, per event date: daily-incremental, so a one-day
    run aggregates only its window's days instead of every event again. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        tags=['daily'],
    )
}}

with

events as (

    -- Lag of each distinct message: first receipt − skew-corrected event time.
    select
        event_date,
        received_copies,
        date_diff('millisecond', event_at, received_at) / 1000.0 as lag_seconds
    from {{ ref('stg_events') }}
    where {{ event_date_window('event_date') }}

),

final as (

    -- Bronze rows per day = distinct messages + their resends (stg_events keeps the count), so
    -- bronze/events is read once per run, by stg_events.
    select
        event_date,
        sum(received_copies) as rows_landed,
        count(*) as distinct_messages,
        quantile_cont(lag_seconds, 0.50) as p50_ingestion_lag_seconds,
        quantile_cont(lag_seconds, 0.99) as p99_ingestion_lag_seconds,
        max(lag_seconds) as max_ingestion_lag_seconds,
        count(*) filter (where lag_seconds > 86400) as late_events,
        count(*) filter (where lag_seconds > 86400) / count(*) as late_event_share
    from events
    group by event_date

)

select * from final
