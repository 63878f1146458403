{%- set tz = var('reporting_timezone', 'UTC') -%}
{#- Period grains reported and their last period: day (calendar day / 24 h), week (calendar week,
    Monday start / 7 x 24 h), month (calendar month / 30 x 24 h). -#}
{%- set max_periods = {
    'day': var('retention_max_period_days', 28),
    'week': var('retention_max_period_weeks', 12),
    'month': var('retention_max_period_months', 12),
} -%}
{%- set period_grains = var('retention_period_grains', ['day', 'week', 'month']) -%}
{%- for grain in period_grains if grain not in max_periods -%}
  {{ exceptions.raise_compiler_error(
      "var retention_period_grains: unknown grain '" ~ grain ~ "' (use day, week, month)") }}
{%- endfor -%}

with

account_events as (

    select * from {{ ref('stg_account_events') }}

),

events as (

    select * from {{ ref('stg_events') }}

),

signups as (

    select
        user_id,
        min(event_at) as signup_at
    from account_events
    where account_action = 'signed_up'
        and user_id is not null
    group by user_id

),

signups_local as (

    select
        user_id,
        signup_at,
        cast(timezone('{{ tz }}', signup_at) as date) as signup_local_date
    from signups

),

activity as (

    select
        user_id,
        event_at
    from events
    where {{ is_activity_event() }}
        and user_id is not null

),

as_of as (

    -- Periods are reported only once they have ended before the newest activity event.
    select max(event_at) as as_of_at from activity

),

user_event_days as (

    -- Each activity event at or after signup as its (calendar day, rolling 24-hour day) since
    -- signup; distinct, so the events are joined and scanned once for both window types.
    select distinct
        signups_local.user_id,
        signups_local.signup_local_date,
        date_diff(
            'day',
            signups_local.signup_local_date,
            cast(timezone('{{ tz }}', activity.event_at) as date)
        ) as calendar_day,
        (epoch_us(activity.event_at) - epoch_us(signups_local.signup_at)) // 86400000000
            as rolling_day
    from signups_local
    inner join activity
        on signups_local.user_id = activity.user_id
        and activity.event_at >= signups_local.signup_at

),

user_day_periods as (

    -- Days since signup in which the user had an activity event at or after signup.
    select distinct user_id, signup_local_date, 'calendar' as window_type, calendar_day as period_number
    from user_event_days
    union all
    select distinct user_id, signup_local_date, 'rolling_24h' as window_type, rolling_day as period_number
    from user_event_days

),

user_periods as (

    -- Week and month periods follow from the day periods (one row per active day, not per event):
    -- calendar weeks/months count the week (Monday start) / month boundaries between the signup
    -- date and the activity date (both in reporting_timezone); rolling ones are whole 7 x 24 h /
    -- 30 x 24 h spans since signup_at, i.e. floor(rolling day / 7 or 30).
    {%- for grain in period_grains %}
    {%- if not loop.first %}

    union all
    {% endif %}
    select distinct
        user_id,
        window_type,
        '{{ grain }}' as period_grain,
        {%- if grain == 'day' %}
        period_number
        {%- else %}
        case window_type
            when 'calendar' then date_diff(
                '{{ grain }}',
                date_trunc('{{ grain }}', signup_local_date),
                date_trunc('{{ grain }}', signup_local_date + cast(period_number as integer))
            )
            else period_number // {{ 7 if grain == 'week' else 30 }}
        end as period_number
        {%- endif %}
    from user_day_periods
    {%- endfor %}

),

user_last_period as (

    select
        user_id,
        window_type,
        period_grain,
        max(period_number) as last_period_number
    from user_periods
    group by user_id, window_type, period_grain

),

cohort_members as (

    select
        signups_local.user_id,
        signups_local.signup_at,
        signups_local.signup_local_date,
        grains.cohort_grain,
        cast(date_trunc(grains.cohort_grain, signups_local.signup_local_date) as date) as cohort_start
    from signups_local
    cross join (values ('week'), ('month')) as grains (cohort_grain)

),

cohorts as (

    select
        cohort_grain,
        cohort_start,
        count(*) as cohort_size,
        max(signup_at) as last_signup_at,
        max(signup_local_date) as last_signup_local_date
    from cohort_members
    group by cohort_grain, cohort_start

),

periods as (

    {%- for grain in period_grains %}
    {%- if not loop.first %}

    union all
    {% endif %}
    select '{{ grain }}' as period_grain, period_number
    from range(0, {{ max_periods[grain] }} + 1) as periods (period_number)
    {%- endfor %}

),

grid as (

    -- Every (cohort, window type, period) whose period has ended for every member of the cohort:
    -- calendar periods end at a local midnight / Monday / 1st of the month, rolling ones
    -- (period + 1) x 24 h / 7 x 24 h / 30 x 24 h after the cohort's last signup.
    select
        cohorts.cohort_grain,
        cohorts.cohort_start,
        cohorts.cohort_size,
        window_types.window_type,
        periods.period_grain,
        periods.period_number
    from cohorts
    cross join (values ('calendar'), ('rolling_24h')) as window_types (window_type)
    cross join periods
    cross join as_of
    where case window_types.window_type
        when 'calendar' then timezone(
            '{{ tz }}',
            cast(case periods.period_grain
                when 'day' then cohorts.last_signup_local_date + cast(periods.period_number + 1 as integer)
                when 'week' then cast(date_trunc('week', cohorts.last_signup_local_date) as date)
                    + cast(7 * (periods.period_number + 1) as integer)
                else cast(date_trunc('month', cohorts.last_signup_local_date) as date)
                    + to_months(cast(periods.period_number + 1 as integer))
            end as timestamp)
        ) <= as_of.as_of_at
        else cohorts.last_signup_at + to_hours(cast(
            24 * (periods.period_number + 1) * case periods.period_grain
                when 'day' then 1 when 'week' then 7 else 30
            end as bigint
        )) <= as_of.as_of_at
    end

),

retained as (

    select
        grid.cohort_grain,
        grid.cohort_start,
        grid.window_type,
        grid.period_grain,
        grid.period_number,
        grid.cohort_size,
        count(distinct user_periods.user_id) as retained_n_day,
        count(distinct user_last_period.user_id) as retained_unbounded
    from grid
    inner join cohort_members
        on grid.cohort_grain = cohort_members.cohort_grain
        and grid.cohort_start = cohort_members.cohort_start
    left join user_periods
        on cohort_members.user_id = user_periods.user_id
        and grid.window_type = user_periods.window_type
        and grid.period_grain = user_periods.period_grain
        and grid.period_number = user_periods.period_number
    left join user_last_period
        on cohort_members.user_id = user_last_period.user_id
        and grid.window_type = user_last_period.window_type
        and grid.period_grain = user_last_period.period_grain
        and user_last_period.last_period_number >= grid.period_number
    group by all

),

final as (

    select
        retained.cohort_grain
            || '|' || cast(retained.cohort_start as varchar)
            || '|' || retained.window_type
            || '|' || kinds.retention_kind
            || '|' || retained.period_grain
            || '|' || cast(retained.period_number as varchar) as retention_id,
        retained.cohort_grain,
        retained.cohort_start,
        retained.period_grain,
        cast(retained.period_number as integer) as period_number,
        retained.window_type,
        kinds.retention_kind,
        retained.cohort_size,
        case kinds.retention_kind
            when 'n_day' then retained.retained_n_day
            else retained.retained_unbounded
        end as retained_users,
        case kinds.retention_kind
            when 'n_day' then retained.retained_n_day
            else retained.retained_unbounded
        end / retained.cohort_size as retention_rate,
        '{{ tz }}' as reporting_timezone
    from retained
    cross join (values ('n_day'), ('unbounded')) as kinds (retention_kind)

)

select * from final
