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

coverage as (

    -- A user counts in the MAU (WAU) of day d when active on some day in (d - 30, d] (d - 7).
    -- Each active day a covers [a, a + 29]; the part not already covered by the user's previous
    -- active day p starts at max(a, p + 30). These parts are disjoint, so the MAU of a day is
    -- the number of parts that contain it: a running sum of +1 at each part's start and -1 the
    -- day after its end. This replaced a range join of every day with 30 days of user-days
    -- (~18M rows at 10M events) and its count(distinct).
    select
        activity_date,
        greatest(activity_date, previous_date + 30) as mau_from,
        greatest(activity_date, previous_date + 7) as wau_from
    from (
        select
            user_id,
            activity_date,
            lag(activity_date) over (partition by user_id order by activity_date) as previous_date
        from user_days
    ) as with_previous

),

steps as (

    select activity_date as step_date, 1 as dau, 0 as wau, 0 as mau from coverage
    union all
    select activity_date + 1, -1, 0, 0 from coverage
    union all
    select wau_from, 0, 1, 0 from coverage
    union all
    select activity_date + 7, 0, -1, 0 from coverage
    union all
    select mau_from, 0, 0, 1 from coverage
    union all
    select activity_date + 30, 0, 0, -1 from coverage

),

daily_steps as (

    select
        step_date,
        sum(dau) as dau,
        sum(wau) as wau,
        sum(mau) as mau
    from steps
    group by step_date

),

trailing_counts as (

    select
        date_spine.activity_date,
        cast(coalesce(sum(daily_steps.dau) over running, 0) as bigint) as dau,
        cast(coalesce(sum(daily_steps.wau) over running, 0) as bigint) as wau,
        cast(coalesce(sum(daily_steps.mau) over running, 0) as bigint) as mau
    from date_spine
    left join daily_steps
        on daily_steps.step_date = date_spine.activity_date
    window running as (order by date_spine.activity_date)

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
