with

marketplace as (

    select * from {{ ref('stg_marketplace_events') }}

),

purchases as (

    select
        order_id,
        trainer_id,
        program_id,
        user_id,
        amount,
        coalesce(trainer_payout, amount * (1 - commission_rate)) as trainer_payout,
        commission_rate,
        event_date
    from marketplace
    where marketplace_event_type = 'purchased'

),

refunds as (

    -- A refund reverses the trainer's share of the refunded amount at the order's commission rate.
    select
        refunds.order_id,
        coalesce(refunds.trainer_id, purchases.trainer_id) as trainer_id,
        refunds.amount as refunded_amount,
        refunds.amount * coalesce(
            purchases.trainer_payout / nullif(purchases.amount, 0),
            1 - purchases.commission_rate
        ) as payout_reversed,
        refunds.event_date
    from marketplace as refunds
    left join purchases on refunds.order_id = purchases.order_id
    where refunds.marketplace_event_type = 'refunded'

),

monthly_sales as (

    select
        trainer_id,
        cast(date_trunc('month', event_date) as date) as revenue_month,
        count(*) as purchases,
        count(distinct user_id) as buyers,
        count(distinct program_id) as programs_sold,
        sum(amount) as gross_revenue,
        sum(trainer_payout) as trainer_payout,
        sum(amount) - sum(trainer_payout) as platform_commission
    from purchases
    group by 1, 2

),

monthly_refunds as (

    select
        trainer_id,
        cast(date_trunc('month', event_date) as date) as revenue_month,
        count(*) as refunds,
        sum(refunded_amount) as refunded_amount,
        sum(payout_reversed) as payout_reversed
    from refunds
    group by 1, 2

),

final as (

    select
        coalesce(monthly_sales.trainer_id, monthly_refunds.trainer_id) as trainer_id,
        coalesce(monthly_sales.revenue_month, monthly_refunds.revenue_month) as revenue_month,
        coalesce(monthly_sales.purchases, 0) as purchases,
        coalesce(monthly_sales.buyers, 0) as buyers,
        coalesce(monthly_sales.programs_sold, 0) as programs_sold,
        coalesce(monthly_sales.gross_revenue, 0) as gross_revenue,
        coalesce(monthly_sales.platform_commission, 0) as platform_commission,
        coalesce(monthly_sales.trainer_payout, 0) as trainer_payout,
        coalesce(monthly_refunds.refunds, 0) as refunds,
        coalesce(monthly_refunds.refunded_amount, 0) as refunded_amount,
        coalesce(monthly_refunds.payout_reversed, 0) as payout_reversed,
        coalesce(monthly_sales.gross_revenue, 0) - coalesce(monthly_refunds.refunded_amount, 0)
            as net_revenue,
        coalesce(monthly_sales.trainer_payout, 0) - coalesce(monthly_refunds.payout_reversed, 0)
            as net_trainer_payout,
        coalesce(monthly_sales.platform_commission, 0)
            - (coalesce(monthly_refunds.refunded_amount, 0) - coalesce(monthly_refunds.payout_reversed, 0))
            as net_platform_commission,
        coalesce(monthly_sales.platform_commission, 0) / nullif(monthly_sales.gross_revenue, 0)
            as effective_commission_rate
    from monthly_sales
    full outer join monthly_refunds
        on monthly_sales.trainer_id = monthly_refunds.trainer_id
        and monthly_sales.revenue_month = monthly_refunds.revenue_month

)

select * from final
