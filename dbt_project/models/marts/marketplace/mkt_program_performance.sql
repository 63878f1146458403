with

marketplace as (

    select * from {{ ref('stg_marketplace_events') }}
    where program_id is not null

),

funnel as (

    select * from {{ ref('int_purchase_funnel_steps') }}

),

ratings as (

    -- A program's rating is the mean of its members' ratings of its workouts.
    select
        program_id,
        sum(rating_sum) / sum(ratings) as avg_rating,
        sum(ratings) as ratings
    from {{ ref('int_program_ratings_daily') }}
    group by program_id

),

events_by_program as (

    select
        program_id,
        arg_max(trainer_id, event_at) filter (where trainer_id is not null) as trainer_id,
        arg_max(category, event_at) filter (where category is not null) as category,
        arg_max(list_price, event_at) filter (where list_price is not null) as list_price,
        count(*) filter (where marketplace_event_type = 'viewed') as views,
        count(distinct coalesce(user_id, anonymous_id)) filter (where marketplace_event_type = 'viewed')
            as viewers,
        count(*) filter (where marketplace_event_type = 'purchased') as purchases,
        count(distinct user_id) filter (where marketplace_event_type = 'purchased') as purchasers,
        coalesce(sum(amount) filter (where marketplace_event_type = 'purchased'), 0) as gross_revenue,
        count(*) filter (where marketplace_event_type = 'refunded') as refunds,
        coalesce(sum(amount) filter (where marketplace_event_type = 'refunded'), 0) as refunded_amount,
        coalesce(sum(trainer_payout) filter (where marketplace_event_type = 'purchased'), 0)
            as trainer_payout,
        min(event_at) filter (where marketplace_event_type = 'purchased') as first_purchased_at,
        max(event_at) filter (where marketplace_event_type = 'purchased') as last_purchased_at
    from marketplace
    group by program_id

),

viewer_conversion as (

    select
        program_id,
        count(*) filter (where is_purchased_after_view) as viewers_who_purchased
    from funnel
    group by program_id

),

final as (

    select
        events_by_program.program_id,
        events_by_program.trainer_id,
        events_by_program.category,
        events_by_program.list_price,
        events_by_program.views,
        events_by_program.viewers,
        events_by_program.purchases,
        events_by_program.purchasers,
        coalesce(viewer_conversion.viewers_who_purchased, 0) as viewers_who_purchased,
        events_by_program.purchasers / nullif(events_by_program.viewers, 0) as conversion_rate,
        events_by_program.gross_revenue,
        events_by_program.refunds,
        events_by_program.refunded_amount,
        events_by_program.gross_revenue - events_by_program.refunded_amount as net_revenue,
        events_by_program.refunds / nullif(events_by_program.purchases, 0) as refund_rate,
        events_by_program.trainer_payout,
        events_by_program.gross_revenue - events_by_program.trainer_payout as platform_commission,
        ratings.avg_rating,
        coalesce(ratings.ratings, 0) as ratings,
        events_by_program.first_purchased_at,
        events_by_program.last_purchased_at
    from events_by_program
    left join viewer_conversion on viewer_conversion.program_id = events_by_program.program_id
    left join ratings on ratings.program_id = events_by_program.program_id

)

select * from final
