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

    -- int_sessions already keeps midnight-crossing sessions whole (it reads a day before its window).
    select * from {{ ref('int_sessions') }}
    where {{ event_date_window('session_date', this_column='session_date') }}

),

final as (

    select
        session_id,
        user_key,
        user_id,
        session_start,
        session_end,
        duration_seconds,
        event_count,
        session_date,
        platform
    from sessions

)

select * from final
