{%- set inactivity_gap_minutes = var('session_inactivity_gap_minutes', 30) -%}

with

events as (

    select * from {{ ref('stg_events') }}

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

gaps as (

    select
        *,
        lag(event_at) over (
            partition by user_key order by event_at, message_id
        ) as previous_event_at
    from activity

),

numbered as (

    -- A new session starts at a user's first event and after more than the inactivity gap.
    select
        *,
        sum(
            case
                when previous_event_at is null
                    or event_at - previous_event_at > interval '{{ inactivity_gap_minutes }} minutes'
                then 1
                else 0
            end
        ) over (
            partition by user_key order by event_at, message_id
            rows between unbounded preceding and current row
        ) as session_number
    from gaps

),

sessions as (

    select
        user_key,
        session_number,
        max(user_id) as user_id,
        min(event_at) as session_start,
        max(event_at) as session_end,
        count(*) as event_count,
        arg_min(platform, event_at) filter (where platform is not null) as platform
    from numbered
    group by user_key, session_number

),

final as (

    select
        md5(user_key || '|' || cast(epoch_us(session_start) as varchar)) as session_id,
        user_key,
        user_id,
        session_start,
        session_end,
        cast(date_diff('second', session_start, session_end) as bigint) as duration_seconds,
        event_count,
        cast(timezone('UTC', session_start) as date) as session_date,
        platform
    from sessions

)

select * from final
