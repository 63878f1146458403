with

events as (

    select * from {{ ref('stg_events') }}

),

monthly as (

    select
        cast(date_trunc('month', event_date) as date) as revenue_month,
        sum(revenue) filter (where event_name in {{ sql_string_list(gross_revenue_events()) }})
            as gross_revenue,
        sum(abs(revenue)) filter (where event_name in {{ sql_string_list(refund_events()) }})
            as refunds,
        sum(revenue) filter (where event_name in {{ sql_string_list(subscription_revenue_events()) }})
            as subscription_revenue,
        sum(revenue) filter (where event_name in {{ sql_string_list(program_purchase_events()) }})
            as program_revenue,
        count(distinct user_id) filter (where {{ is_activity_event() }}) as active_users,
        count(distinct user_id) filter (
            where event_name in {{ sql_string_list(gross_revenue_events()) }} and revenue > 0
        ) as paying_users,
        min(event_date) as first_date,
        max(event_date) as last_date
    from events
    group by 1

),

final as (

    select
        revenue_month,
        last_date = last_day(revenue_month) and first_date = revenue_month as is_complete_month,
        coalesce(gross_revenue, 0) as gross_revenue,
        coalesce(refunds, 0) as refunds,
        coalesce(gross_revenue, 0) - coalesce(refunds, 0) as net_revenue,
        coalesce(subscription_revenue, 0) as subscription_revenue,
        coalesce(program_revenue, 0) as program_revenue,
        active_users,
        paying_users,
        (coalesce(gross_revenue, 0) - coalesce(refunds, 0)) / nullif(active_users, 0) as arpu,
        (coalesce(gross_revenue, 0) - coalesce(refunds, 0)) / nullif(paying_users, 0) as arppu,
        paying_users / nullif(active_users, 0) as paying_share
    from monthly

)

select * from final
