{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='revenue_date',
    tags=['daily'],
) }}

with

events as (

    select * from {{ ref('stg_events') }}
    where {{ event_date_window('event_date', this_column='revenue_date') }}

),

date_spine as (

    -- Every UTC day from the first to the last event date (of the rebuilt window), as exec_daily_kpis.
    select cast(spine_day as date) as revenue_date
    from (select min(event_date) as first_date, max(event_date) as last_date from events) as bounds,
        unnest(generate_series(bounds.first_date, bounds.last_date, interval 1 day)) as days (spine_day)

),

streams as (

    select * from (values ('subscriptions'), ('program_sales')) as s (revenue_stream)

),

classified as (

    select
        event_date as revenue_date,
        user_id,
        case
            when event_name in {{ sql_string_list(subscription_revenue_events()) }} then 'subscriptions'
            when event_name in {{ sql_string_list(program_purchase_events() + refund_events()) }}
                then 'program_sales'
        end as revenue_stream,
        case when event_name in {{ sql_string_list(gross_revenue_events()) }}
            then coalesce(revenue, 0) else 0 end as gross,
        case when event_name in {{ sql_string_list(refund_events()) }}
            then abs(coalesce(revenue, 0)) else 0 end as refund,
        event_name in {{ sql_string_list(gross_revenue_events()) }} as is_payment,
        event_name in {{ sql_string_list(refund_events()) }} as is_refund
    from events
    where event_name in {{ sql_string_list(gross_revenue_events() + refund_events()) }}

),

daily as (

    select
        revenue_date,
        revenue_stream,
        {{ exact_sum('gross') }} as gross_revenue,
        {{ exact_sum('refund') }} as refunds,
        count(*) filter (where is_payment) as payments,
        count(*) filter (where is_refund) as refund_count,
        count(distinct user_id) filter (where is_payment) as paying_users
    from classified
    group by revenue_date, revenue_stream

),

final as (

    select
        date_spine.revenue_date,
        streams.revenue_stream,
        coalesce(daily.gross_revenue, 0) as gross_revenue,
        coalesce(daily.refunds, 0) as refunds,
        coalesce(daily.gross_revenue, 0) - coalesce(daily.refunds, 0) as net_revenue,
        coalesce(daily.payments, 0) as payments,
        coalesce(daily.refund_count, 0) as refund_count,
        coalesce(daily.paying_users, 0) as paying_users
    from date_spine
    cross join streams
    left join daily
        on date_spine.revenue_date = daily.revenue_date
        and streams.revenue_stream = daily.revenue_stream

)

select * from final
