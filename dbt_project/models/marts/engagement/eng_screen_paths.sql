with

engagement as (

    select * from {{ ref('stg_engagement_events') }}

),

sessions as (

    select * from {{ ref('int_sessions') }}

),

screens as (

    select
        message_id,
        user_key,
        screen_name,
        event_at
    from engagement
    where engagement_kind = 'screen_view'
        and user_key is not null

),

screens_in_sessions as (

    -- Screen views are activity events, so each lies inside exactly one session of its user.
    select
        sessions.session_id,
        screens.user_key,
        screens.message_id,
        screens.screen_name,
        screens.event_at
    from screens
    inner join sessions
        on screens.user_key = sessions.user_key
        and screens.event_at between sessions.session_start and sessions.session_end

),

ordered as (

    select
        session_id,
        user_key,
        coalesce(
            lag(screen_name) over (partition by session_id order by event_at, message_id),
            '(entry)'
        ) as from_screen,
        screen_name as to_screen,
        lead(screen_name) over (partition by session_id order by event_at, message_id)
            as next_screen
    from screens_in_sessions

),

transitions as (

    select session_id, user_key, from_screen, to_screen from ordered
    union all
    select session_id, user_key, to_screen as from_screen, '(exit)' as to_screen
    from ordered
    where next_screen is null

),

aggregated as (

    select
        from_screen,
        to_screen,
        count(*) as transitions,
        count(distinct session_id) as sessions,
        count(distinct user_key) as users
    from transitions
    group by from_screen, to_screen

),

final as (

    select
        from_screen || ' -> ' || to_screen as path_id,
        from_screen,
        to_screen,
        transitions,
        sessions,
        users,
        transitions / sum(transitions) over (partition by from_screen) as share_of_from_screen
    from aggregated

)

select * from final
