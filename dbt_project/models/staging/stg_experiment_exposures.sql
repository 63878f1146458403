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

    select * from {{ ref('stg_events') }}
    where {{ event_date_window('event_date') }}
        and event_name = 'Experiment Exposed'

),

final as (

    select
        message_id,
        user_id,
        anonymous_id,
        json_extract_string(properties, '$.experiment') as experiment,
        json_extract_string(properties, '$.variant') as variant,
        platform,
        event_at,
        received_at,
        event_date
    from events

)

select * from final
