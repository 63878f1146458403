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
        and event_name in {{ sql_string_list(recommendation_lifecycle_events()) }}

),

final as (

    select
        message_id,
        user_id,
        anonymous_id,
        event_name,
        lower(replace(event_name, 'Recommendation ', '')) as recommendation_event_type,
        json_extract_string(properties, '$.recommendation_id') as recommendation_id,
        json_extract_string(properties, '$.model_version') as model_version,
        json_extract_string(properties, '$.workout_id') as workout_id,
        try_cast(json_extract_string(properties, '$.position') as integer) as position,
        json_extract_string(properties, '$.modification') as modification,
        try_cast(json_extract_string(properties, '$.rating') as integer) as rating,
        platform,
        event_at,
        received_at,
        event_date
    from events

)

select * from final
