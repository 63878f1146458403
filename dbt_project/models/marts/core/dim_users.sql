with

events as (

    select * from {{ ref('stg_events') }}

),

app_users as (

    select * from {{ ref('stg_app_users') }}

),

user_days as (

    select * from {{ ref('int_user_day_activity') }}

),

user_events as (

    -- No JSON payloads here: this CTE feeds several aggregates over every event, and carrying
    -- context/properties/traits through it read and buffered them for all rows.
    select
        user_id,
        anonymous_id,
        event_type,
        event_name,
        platform,
        revenue,
        event_at
    from events
    where user_id is not null
        and coalesce(anonymous_id, '') not in {{ sql_string_list(non_activity_anonymous_ids()) }}

),

profile_events as (

    -- The few events whose JSON dim_users reads (sign-ups, identify calls): the filter is pushed
    -- into the scan, so the payloads are fetched for these rows only (read from stg_events
    -- itself, not the `events` CTE: a CTE read twice is materialized with every column either
    -- reader needs, for all rows).
    select
        user_id,
        event_type,
        event_name,
        event_at,
        context,
        properties,
        traits
    from {{ ref('stg_events') }}
    where user_id is not null
        and coalesce(anonymous_id, '') not in {{ sql_string_list(non_activity_anonymous_ids()) }}
        and (event_name = 'Signed Up' or event_type = 'identify')

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
    from profile_events
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
    from profile_events
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

all_users as (

    -- Every user the app exported or the events mention.
    select user_id from app_users
    union
    select user_id from revenue

),

as_of as (

    -- The newest activity day in the data: lifecycle stages are relative to it, not to the clock,
    -- so rebuilding the same data gives the same stages.
    select max(activity_date) as as_of_date from user_days

),

day_activity as (

    select
        user_id,
        min(activity_date) as first_active_date,
        max(activity_date) as last_active_date,
        count(*) as active_days
    from user_days
    group by user_id

),

joined as (

    select
        all_users.user_id,
        signups.signed_up_at,
        cast(timezone('UTC', signups.signed_up_at) as date) as signup_date,
        app_users.signup_at as account_created_at,
        coalesce(signups.signed_up_at, app_users.signup_at) as cohort_signup_at,
        activity.first_seen_at,
        activity.last_seen_at,
        coalesce(latest_traits.acquisition_channel, signups.signup_channel, app_users.acquisition_channel)
            as acquisition_channel,
        latest_traits.plan,
        app_users.plan_id as current_plan_id,
        lower(coalesce(latest_traits.platform, app_users.platform, activity.last_platform)) as platform,
        app_users.country,
        app_users.age_band,
        app_users.fitness_goal,
        app_users.account_status,
        coalesce(subscription_state.is_subscriber, false) as is_subscriber,
        coalesce(revenue.total_revenue, 0) as total_revenue,
        coalesce(day_activity.active_days, 0) as active_days,
        day_activity.first_active_date,
        day_activity.last_active_date,
        as_of.as_of_date
    from all_users
    cross join as_of
    left join app_users using (user_id)
    left join revenue using (user_id)
    left join signups using (user_id)
    left join latest_traits using (user_id)
    left join activity using (user_id)
    left join subscription_state using (user_id)
    left join day_activity using (user_id)

),

final as (

    select
        user_id,
        signed_up_at,
        signup_date,
        account_created_at,
        cast(date_trunc('week', cast(timezone('{{ var("reporting_timezone", "UTC") }}', cohort_signup_at) as date)) as date)
            as signup_cohort_week,
        cast(date_trunc('month', cast(timezone('{{ var("reporting_timezone", "UTC") }}', cohort_signup_at) as date)) as date)
            as signup_cohort_month,
        first_seen_at,
        last_seen_at,
        acquisition_channel,
        plan,
        current_plan_id,
        platform,
        country,
        age_band,
        fitness_goal,
        account_status,
        is_subscriber,
        total_revenue,
        active_days,
        last_active_date,
        case
            when last_active_date is null then 'never_active'
            when first_active_date > as_of_date - 7 then 'new'
            when last_active_date > as_of_date - 7 then 'active'
            when last_active_date > as_of_date - 28 then 'dormant'
            else 'churned'
        end as lifecycle_stage
    from joined

)

select * from final
