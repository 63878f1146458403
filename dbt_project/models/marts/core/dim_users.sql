with

events as (

    select * from {{ ref('stg_events') }}

),

user_events as (

    select *
    from events
    where user_id is not null
        and coalesce(anonymous_id, '') not in {{ sql_string_list(non_activity_anonymous_ids()) }}

),

signups as (

    select
        user_id,
        min(event_at) as signed_up_at,
        arg_min(
            coalesce(
                json_extract_string(properties, '$.acquisition_channel'),
                json_extract_string(properties, '$.channel'),
                json_extract_string(context, '$.campaign.source')
            ),
            event_at
        ) as signup_channel
    from user_events
    where event_name = 'Signed Up'
    group by user_id

),

latest_traits as (

    -- The latest non-null value of each trait, over all identify calls of the user.
    select
        user_id,
        arg_max(json_extract_string(traits, '$.acquisition_channel'), event_at)
            filter (where json_extract_string(traits, '$.acquisition_channel') is not null)
            as acquisition_channel,
        arg_max(json_extract_string(traits, '$.plan'), event_at)
            filter (where json_extract_string(traits, '$.plan') is not null) as plan,
        arg_max(json_extract_string(traits, '$.platform'), event_at)
            filter (where json_extract_string(traits, '$.platform') is not null) as platform
    from user_events
    where event_type = 'identify'
    group by user_id

),

activity as (

    select
        user_id,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at,
        arg_max(platform, event_at) filter (where platform is not null) as last_platform
    from user_events
    where {{ is_activity_event() }}
    group by user_id

),

subscription_state as (

    select
        user_id,
        arg_max(event_name, event_at) in {{ sql_string_list(subscription_revenue_events()) }}
            as is_subscriber
    from user_events
    where event_name in {{ sql_string_list(subscription_revenue_events() + ['Subscription Cancelled']) }}
    group by user_id

),

revenue as (

    select
        user_id,
        sum({{ signed_revenue() }}) as total_revenue
    from user_events
    group by user_id

),

final as (

    select
        revenue.user_id,
        signups.signed_up_at,
        cast(timezone('UTC', signups.signed_up_at) as date) as signup_date,
        activity.first_seen_at,
        activity.last_seen_at,
        coalesce(latest_traits.acquisition_channel, signups.signup_channel) as acquisition_channel,
        latest_traits.plan,
        lower(coalesce(latest_traits.platform, activity.last_platform)) as platform,
        coalesce(subscription_state.is_subscriber, false) as is_subscriber,
        revenue.total_revenue
    from revenue
    left join signups using (user_id)
    left join latest_traits using (user_id)
    left join activity using (user_id)
    left join subscription_state using (user_id)

)

select * from final
