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

sessions as (

    select * from {{ ref('int_sessions') }}
    where {{ event_date_window('session_date', this_column='activity_date') }}

),

user_events as (

    select
        *,
        {{ is_activity_event() }} as is_activity
    from events
    where user_id is not null

),

daily_events as (

    select
        user_id,
        event_date as activity_date,
        count(*) filter (where is_activity) as events,
        count(*) filter (where is_activity and event_name = 'Workout Completed') as workouts_completed,
        count(*) filter (
            where is_activity and (event_type = 'screen' or event_name = 'Screen Viewed')
        ) as screens_viewed,
        count(*) filter (where is_activity and event_name = 'Recommendation Shown')
            as recommendations_shown,
        count(*) filter (where is_activity and event_name = 'Recommendation Accepted')
            as recommendations_accepted,
        {{ exact_sum(signed_revenue()) }} as revenue,
        bool_or({{ signed_revenue() }} <> 0) as has_revenue
    from user_events
    group by user_id, event_date

),

daily_sessions as (

    select
        user_id,
        session_date as activity_date,
        count(*) as sessions
    from sessions
    where user_id is not null
    group by user_id, session_date

),

final as (

    select
        daily_events.user_id,
        daily_events.activity_date,
        daily_events.events,
        coalesce(daily_sessions.sessions, 0) as sessions,
        daily_events.workouts_completed,
        daily_events.screens_viewed,
        daily_events.recommendations_shown,
        daily_events.recommendations_accepted,
        daily_events.revenue
    from daily_events
    left join daily_sessions
        on daily_events.user_id = daily_sessions.user_id
        and daily_events.activity_date = daily_sessions.activity_date
    where daily_events.events > 0 or daily_events.has_revenue

)

select * from final
