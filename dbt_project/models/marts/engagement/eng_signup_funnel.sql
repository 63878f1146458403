{%- set window_days = var('funnel_window_days', 14) -%}

with

account_events as (

    select * from {{ ref('stg_account_events') }}

),

workout_events as (

    select * from {{ ref('stg_workout_events') }}

),

events as (

    select * from {{ ref('stg_events') }}

),

signups as (

    -- A user's first `Signed Up` event is the funnel's entry.
    select
        user_id,
        min(event_at) as signup_at,
        arg_min(signup_channel, event_at) as signup_channel,
        arg_min(platform, event_at) as signup_platform
    from account_events
    where account_action = 'signed_up'
        and user_id is not null
    group by user_id

),

as_of as (

    select max(event_at) as as_of_at from events

),

first_workouts as (

    select
        signups.user_id,
        min(workout_events.event_at) as first_workout_at
    from signups
    inner join workout_events
        on signups.user_id = workout_events.user_id
        and workout_events.event_at >= signups.signup_at
    where workout_events.workout_action = 'completed'
    group by signups.user_id

),

first_payments as (

    select
        signups.user_id,
        min(events.event_at) filter (
            where events.event_name in {{ sql_string_list(program_purchase_events()) }}
        ) as first_purchase_at,
        min(events.event_at) filter (where events.event_name = 'Subscription Started')
            as first_subscription_at
    from signups
    inner join events
        on signups.user_id = events.user_id
        and events.event_at >= signups.signup_at
    where events.event_name in {{ sql_string_list(program_purchase_events() + ['Subscription Started']) }}
    group by signups.user_id

),

joined as (

    select
        signups.user_id,
        signups.signup_at,
        signups.signup_channel,
        signups.signup_platform,
        first_workouts.first_workout_at,
        first_payments.first_purchase_at,
        first_payments.first_subscription_at,
        least(first_payments.first_purchase_at, first_payments.first_subscription_at)
            as first_conversion_at,
        signups.signup_at + interval {{ window_days }} day as window_end_at,
        as_of.as_of_at
    from signups
    cross join as_of
    left join first_workouts using (user_id)
    left join first_payments using (user_id)

),

final as (

    select
        user_id,
        signup_at,
        cast(timezone('UTC', signup_at) as date) as signup_date,
        signup_channel,
        signup_platform,
        first_workout_at,
        first_purchase_at,
        first_subscription_at,
        first_conversion_at,
        date_diff('second', signup_at, first_workout_at) / 3600.0 as hours_to_first_workout,
        date_diff('second', signup_at, first_purchase_at) / 3600.0 as hours_to_first_purchase,
        date_diff('second', signup_at, first_subscription_at) / 3600.0 as hours_to_first_subscription,
        date_diff('second', signup_at, first_conversion_at) / 3600.0 as hours_to_first_conversion,
        {{ window_days }} as funnel_window_days,
        window_end_at,
        coalesce(first_workout_at <= window_end_at, false) as converted_workout_within_window,
        coalesce(first_purchase_at <= window_end_at, false) as converted_purchase_within_window,
        coalesce(first_subscription_at <= window_end_at, false) as converted_subscription_within_window,
        coalesce(first_conversion_at <= window_end_at, false) as converted_within_window,
        coalesce(
            first_workout_at <= window_end_at
            and first_conversion_at <= window_end_at
            and first_conversion_at >= first_workout_at,
            false
        ) as converted_after_workout_within_window,
        window_end_at <= as_of_at as is_window_complete
    from joined

)

select * from final
