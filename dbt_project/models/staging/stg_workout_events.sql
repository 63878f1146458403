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

),

workouts as (

    select *
    from events
    where event_type = 'track'
        and event_name in ('Workout Started', 'Workout Completed')

),

renamed as (

    select
        ----------  ids
        message_id,
        user_id,
        anonymous_id,
        json_extract_string(properties, '$.workout_id') as workout_id,
        json_extract_string(properties, '$.program_id') as program_id,

        ----------  event
        case event_name
            when 'Workout Started' then 'started'
            else 'completed'
        end as workout_action,
        platform,

        ----------  numerics
        try_cast(json_extract_string(properties, '$.duration_minutes') as double) as duration_minutes,
        try_cast(json_extract_string(properties, '$.calories') as double) as calories,

        ----------  timestamps (UTC)
        event_at,
        event_date

    from workouts

)

select * from renamed
