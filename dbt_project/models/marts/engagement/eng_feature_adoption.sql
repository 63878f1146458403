with

engagement as (

    select * from {{ ref('stg_engagement_events') }}

),

user_days as (

    select * from {{ ref('int_user_day_activity') }}

),

as_of as (

    select max(activity_date) as as_of_date from user_days

),

active_users as (

    select
        count(distinct user_id) as active_users,
        count(distinct user_id) filter (
            where activity_date > (select as_of_date from as_of) - 28
        ) as active_users_last_28d
    from user_days

),

feature_uses as (

    select
        coalesce(feature, '(unknown)') as feature,
        user_id,
        event_at,
        event_date
    from engagement
    where engagement_kind = 'feature_use'
        and user_id is not null

),

per_feature as (

    select
        feature,
        count(*) as uses,
        count(distinct user_id) as users,
        count(distinct user_id) filter (
            where event_date > (select as_of_date from as_of) - 28
        ) as users_last_28d,
        min(event_at) as first_used_at,
        max(event_at) as last_used_at
    from feature_uses
    group by feature

),

final as (

    select
        per_feature.feature,
        per_feature.uses,
        per_feature.users,
        active_users.active_users,
        per_feature.users / nullif(active_users.active_users, 0) as adoption_rate,
        per_feature.uses / per_feature.users as uses_per_user,
        per_feature.users_last_28d,
        active_users.active_users_last_28d,
        per_feature.users_last_28d / nullif(active_users.active_users_last_28d, 0)
            as adoption_rate_last_28d,
        per_feature.first_used_at,
        per_feature.last_used_at
    from per_feature
    cross join active_users

)

select * from final
