with

marketplace as (

    select * from {{ ref('stg_marketplace_events') }}
    where user_id is not null and program_id is not null

),

steps as (

    select
        user_id,
        program_id,
        arg_max(trainer_id, event_at) filter (where trainer_id is not null) as trainer_id,
        min(event_at) filter (where marketplace_event_type = 'viewed') as first_viewed_at,
        count(*) filter (where marketplace_event_type = 'viewed') as views,
        min(event_at) filter (where marketplace_event_type = 'purchased') as first_purchased_at,
        count(*) filter (where marketplace_event_type = 'purchased') as purchases,
        sum(amount) filter (where marketplace_event_type = 'purchased') as purchase_amount,
        min(event_at) filter (where marketplace_event_type = 'refunded') as first_refunded_at,
        count(*) filter (where marketplace_event_type = 'refunded') as refunds,
        sum(amount) filter (where marketplace_event_type = 'refunded') as refunded_amount
    from marketplace
    where marketplace_event_type in ('viewed', 'purchased', 'refunded')
    group by user_id, program_id

),

final as (

    select
        user_id,
        program_id,
        trainer_id,
        first_viewed_at,
        cast(first_viewed_at as date) as first_viewed_date,
        views,
        first_purchased_at,
        purchases,
        coalesce(purchase_amount, 0) as purchase_amount,
        first_refunded_at,
        refunds,
        coalesce(refunded_amount, 0) as refunded_amount,
        first_viewed_at is not null as is_viewed,
        first_purchased_at is not null as is_purchased,
        first_purchased_at is not null and refunds = 0 as is_kept,
        first_viewed_at is not null and first_purchased_at >= first_viewed_at
            as is_purchased_after_view,
        date_diff('second', first_viewed_at, first_purchased_at) / 3600.0 as hours_view_to_purchase,
        date_diff('second', first_purchased_at, first_refunded_at) / 86400.0
            as days_purchase_to_refund
    from steps

)

select * from final
