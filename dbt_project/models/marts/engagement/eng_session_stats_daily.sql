{#- Daily-incremental: a day's row aggregates only that day's sessions (incremental_window.sql). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='session_date',
        tags=['daily'],
    )
}}

with

sessions as (

    select * from {{ ref('int_sessions') }}
    where {{ event_date_window('session_date', this_column='session_date') }}

),

platform_sessions as (

    select * from {{ ref('int_sessions_by_platform') }}
    where {{ event_date_window('session_date', this_column='session_date') }}

),

all_platforms as (

    select
        session_date,
        'all' as platform,
        user_key,
        user_id,
        duration_seconds,
        event_count
    from sessions

),

per_platform as (

    select
        session_date,
        coalesce(platform, 'unknown') as platform,
        user_key,
        user_id,
        duration_seconds,
        event_count
    from platform_sessions

),

unioned as (

    select * from all_platforms
    union all
    select * from per_platform

),

final as (

    select
        cast(session_date as varchar) || '|' || platform as session_stats_id,
        session_date,
        platform,
        count(*) as sessions,
        count(distinct user_key) as users,
        count(distinct user_id) as identified_users,
        count(*) / count(distinct user_key) as sessions_per_user,
        avg(duration_seconds) as avg_duration_seconds,
        quantile_cont(duration_seconds, 0.5) as median_duration_seconds,
        quantile_cont(duration_seconds, 0.9) as p90_duration_seconds,
        avg(event_count) as avg_events_per_session,
        count(*) filter (where event_count = 1) as single_event_sessions
    from unioned
    group by session_date, platform

)

select * from final
