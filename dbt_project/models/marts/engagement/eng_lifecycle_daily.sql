with

user_days as (

    select * from {{ ref('int_user_day_activity') }}

),

sequenced as (

    select
        user_id,
        activity_date,
        lag(activity_date) over (partition by user_id order by activity_date) as previous_active_date,
        lead(activity_date) over (partition by user_id order by activity_date) as next_active_date
    from user_days

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

active as (

    select
        activity_date,
        count(*) as active_users,
        count(*) filter (where previous_active_date is null) as new_users,
        count(*) filter (where previous_active_date >= activity_date - 7) as returning_users,
        count(*) filter (where previous_active_date < activity_date - 7) as resurrecting_users
    from sequenced
    group by activity_date

),

dormant as (

    -- A user whose latest active day on or before d is a is dormant on d when a + 7 <= d <= a + 27:
    -- nothing in the 7 days ending d, something in the 21 days before those.
    select
        date_spine.activity_date,
        count(*) as dormant_users
    from sequenced
    inner join date_spine
        on date_spine.activity_date >= sequenced.activity_date + 7
        and date_spine.activity_date <= sequenced.activity_date + 27
        and (sequenced.next_active_date is null or date_spine.activity_date < sequenced.next_active_date)
    group by date_spine.activity_date

),

final as (

    select
        date_spine.activity_date,
        coalesce(active.active_users, 0) as active_users,
        coalesce(active.new_users, 0) as new_users,
        coalesce(active.returning_users, 0) as returning_users,
        coalesce(active.resurrecting_users, 0) as resurrecting_users,
        coalesce(dormant.dormant_users, 0) as dormant_users
    from date_spine
    left join active using (activity_date)
    left join dormant using (activity_date)

)

select * from final
