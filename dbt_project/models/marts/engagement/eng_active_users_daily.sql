{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='activity_date',
        tags=['daily'],
    )
}}

with

user_days as (

    -- Trailing 30-day windows: read 29 days of activity before the rebuilt window.
    select * from {{ ref('int_user_day_activity') }}
    where {{ event_date_window_with_history('activity_date', this_column='activity_date', days_back=29) }}

),

first_day as (

    select min(activity_date) as first_activity_date from {{ ref('int_user_day_activity') }}

),

date_spine as (

    select cast(spine_day as date) as activity_date
    from (
        select
            min(activity_date) as first_date,
            max(activity_date) as last_date
        from user_days
    ) as bounds,
    unnest(generate_series(bounds.first_date, bounds.last_date, interval 1 day)) as days (spine_day)

),

trailing_counts as (

    select
        date_spine.activity_date,
        count(distinct user_days.user_id) filter (
            where user_days.activity_date = date_spine.activity_date
        ) as dau,
        count(distinct user_days.user_id) filter (
            where user_days.activity_date > date_spine.activity_date - 7
        ) as wau,
        count(distinct user_days.user_id) as mau
    from date_spine
    left join user_days
        on user_days.activity_date <= date_spine.activity_date
        and user_days.activity_date > date_spine.activity_date - 30
    group by date_spine.activity_date

),

final as (

    select
        trailing_counts.activity_date,
        trailing_counts.dau,
        trailing_counts.wau,
        trailing_counts.mau,
        case when trailing_counts.mau > 0 then trailing_counts.dau / trailing_counts.mau end as stickiness,
        case when trailing_counts.wau > 0 then trailing_counts.dau / trailing_counts.wau end as dau_over_wau,
        trailing_counts.activity_date - 29 >= first_day.first_activity_date as has_full_mau_window
    from trailing_counts
    cross join first_day
    where {{ event_date_window('trailing_counts.activity_date', this_column='activity_date') }}

)

select * from final
