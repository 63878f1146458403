{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='activity_date',
        tags=['daily'],
    )
}}

with

events as (

    select * from {{ ref('stg_events') }}
    where {{ event_date_window('event_date', this_column='activity_date') }}

),

activity as (

    select *
    from events
    where {{ is_activity_event() }}
        and user_id is not null

),

final as (

    select
        user_id || '|' || cast(event_date as varchar) as user_day_id,
        user_id,
        event_date as activity_date,
        count(*) as activity_events,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        count(distinct platform) as platforms,
        arg_min(platform, event_at) filter (where platform is not null) as first_platform,
        count(*) filter (where event_name in ('Workout Started', 'Workout Completed')) as workout_events,
        count(*) filter (where event_name = 'Workout Completed') as workouts_completed
    from activity
    group by user_id, event_date

)

select * from final
