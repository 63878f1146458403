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
        and event_name = 'Safety Flag Raised'

),

final as (

    select
        message_id,
        user_id,
        json_extract_string(properties, '$.recommendation_id') as recommendation_id,
        json_extract_string(properties, '$.model_version') as model_version,
        json_extract_string(properties, '$.workout_id') as workout_id,
        coalesce(json_extract_string(properties, '$.flag_type'), 'unknown') as flag_type,
        coalesce(lower(json_extract_string(properties, '$.severity')), 'unknown') as severity,
        event_at,
        received_at,
        event_date
    from events

)

select * from final
