{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='session_date',
        tags=['daily'],
    )
}}

with

events as (

    -- Sessions crossing midnight: read one extra day before the window, keep sessions starting in it.
    select * from {{ ref('stg_events') }}
    where {{ event_date_window_with_history('event_date', this_column='session_date', days_back=1) }}

),

activity as (

    select
        coalesce(user_id, anonymous_id) as user_key,
        user_id,
        event_at,
        message_id,
        platform
    from events
    where {{ is_activity_event() }}
        and coalesce(user_id, anonymous_id) is not null

),

sessions as (

    select * from {{ sessionize('activity', by_platform=true) }}

),

final as (

    select *
    from sessions
    where {{ event_date_window('session_date', this_column='session_date') }}

)

select * from final
