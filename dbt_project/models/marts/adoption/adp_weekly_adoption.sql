with

usage as (

    select * from {{ ref('fct_dashboard_usage') }}

),

accounts as (

    select * from {{ ref('stg_dashboard_accounts') }}

),

bounds as (

    select
        min(week_start) as first_week,
        max(week_start) as last_week,
        max(event_date) as last_event_date
    from usage

),

weeks as (

    -- Every ISO week (Monday start) from the first to the last week with a dashboard event.
    select
        cast(week_day as date) as week_start,
        cast(week_day as date) + 6 as week_end,
        bounds.last_event_date
    from bounds,
        unnest(generate_series(bounds.first_week, bounds.last_week, interval 7 day)) as spine (week_day)

),

weekly_users as (

    -- One row per account active in a week; its role is the account's (else the last role its
    -- events carried that week).
    select
        usage.week_start,
        usage.account_id,
        coalesce(max(usage.account_role), arg_max(usage.event_role, usage.event_at), 'unknown')
            as role,
        bool_or(usage.is_known_account) as is_known_account,
        count(*) filter (where usage.usage_kind = 'view') as views,
        count(*) as events
    from usage
    group by usage.week_start, usage.account_id

),

account_weeks as (

    -- The stakeholders of a week: the accounts that existed by its end (creation time unknown:
    -- counted in every week).
    select
        weeks.week_start,
        accounts.account_id,
        coalesce(accounts.role, 'unknown') as role
    from weeks
    inner join accounts
        on accounts.created_at is null
        or cast(accounts.created_at as date) <= weeks.week_end

),

roles as (

    select 'all' as role
    union
    select role from account_weeks
    union
    select role from weekly_users

),

active_counts as (

    select
        week_start,
        role_group as role,
        count(*) as active_users,
        count(*) filter (where is_known_account) as active_accounts,
        cast(sum(views) as bigint) as views,
        cast(sum(events) as bigint) as events
    from weekly_users,
        unnest(['all', role]) as groups (role_group)
    group by week_start, role_group

),

account_counts as (

    select
        week_start,
        role_group as role,
        count(*) as accounts
    from account_weeks,
        unnest(['all', role]) as groups (role_group)
    group by week_start, role_group

),

final as (

    select
        weeks.week_start,
        weeks.week_end,
        roles.role,
        coalesce(active_counts.active_users, 0) as active_users,
        coalesce(active_counts.active_accounts, 0) as active_accounts,
        coalesce(account_counts.accounts, 0) as accounts,
        coalesce(active_counts.active_accounts, 0) / nullif(account_counts.accounts, 0)
            as share_active,
        coalesce(active_counts.views, 0) as views,
        coalesce(active_counts.events, 0) as events,
        weeks.week_end <= weeks.last_event_date as is_complete_week
    from weeks
    cross join roles
    left join active_counts
        on weeks.week_start = active_counts.week_start
        and roles.role = active_counts.role
    left join account_counts
        on weeks.week_start = account_counts.week_start
        and roles.role = account_counts.role

)

select * from final
