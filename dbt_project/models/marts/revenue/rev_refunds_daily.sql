{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='refund_date',
    tags=['daily'],
) }}

with

marketplace as (

    select * from {{ ref('stg_marketplace_events') }}

),

refunds as (

    select * from marketplace
    where marketplace_event_type = 'refunded'
        and {{ event_date_window('event_date', this_column='refund_date') }}

),

purchases as (

    -- All purchases, not only the window's: a refund may come days after its purchase.
    select
        order_id,
        min(event_at) as purchased_at
    from marketplace
    where marketplace_event_type = 'purchased' and order_id is not null
    group by order_id

),

daily_purchases as (

    select
        event_date as refund_date,
        count(*) as purchases,
        {{ exact_sum('amount') }} as purchase_revenue
    from marketplace
    where marketplace_event_type = 'purchased'
        and {{ event_date_window('event_date', this_column='refund_date') }}
    group by event_date

),

daily_refunds as (

    select
        refunds.event_date as refund_date,
        count(*) as refund_count,
        count(distinct refunds.user_id) as refunding_users,
        {{ exact_sum('refunds.amount') }} as refunded_amount,
        avg(date_diff('second', purchases.purchased_at, refunds.event_at)) / 86400.0
            as avg_days_to_refund,
        count(*) filter (where purchases.order_id is null) as refunds_without_purchase
    from refunds
    left join purchases on refunds.order_id = purchases.order_id
    group by refunds.event_date

),

final as (

    select
        coalesce(daily_refunds.refund_date, daily_purchases.refund_date) as refund_date,
        coalesce(daily_refunds.refund_count, 0) as refund_count,
        coalesce(daily_refunds.refunding_users, 0) as refunding_users,
        coalesce(daily_refunds.refunded_amount, 0) as refunded_amount,
        coalesce(daily_purchases.purchases, 0) as purchases,
        coalesce(daily_purchases.purchase_revenue, 0) as purchase_revenue,
        coalesce(daily_refunds.refunded_amount, 0) / nullif(daily_purchases.purchase_revenue, 0)
            as refund_to_sales_ratio,
        daily_refunds.avg_days_to_refund,
        coalesce(daily_refunds.refunds_without_purchase, 0) as refunds_without_purchase
    from daily_refunds
    full outer join daily_purchases on daily_refunds.refund_date = daily_purchases.refund_date

)

select * from final
