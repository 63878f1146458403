-- The program table's activity by day, so any date range can be totalled: one row per program,
-- member and UTC day with marketplace activity or ratings. Distinct viewers and buyers of a range
-- are the members with views (purchases) in it; additive columns sum over the range. The
-- all-history row per program (mkt_program_performance) equals this table totalled.

with

marketplace as (

    select * from {{ ref('stg_marketplace_events') }}
    where program_id is not null

),

activity as (

    select
        program_id,
        user_id,
        -- anonymous browsing (before sign-up) is counted by its anonymous_id
        case when user_id is null then anonymous_id end as anonymous_id,
        event_date as activity_date,
        count(*) filter (where marketplace_event_type = 'viewed') as views,
        count(*) filter (where marketplace_event_type = 'purchased') as purchases,
        coalesce(sum(amount) filter (where marketplace_event_type = 'purchased'), 0) as gross_revenue,
        count(*) filter (where marketplace_event_type = 'refunded') as refunds,
        coalesce(sum(amount) filter (where marketplace_event_type = 'refunded'), 0) as refunded_amount,
        coalesce(sum(trainer_payout) filter (where marketplace_event_type = 'purchased'), 0)
            as trainer_payout
    from marketplace
    group by 1, 2, 3, 4

),

ratings as (

    select
        program_id,
        user_id,
        cast(null as varchar) as anonymous_id,
        rating_date as activity_date,
        rating_sum,
        ratings
    from {{ ref('int_program_ratings_daily') }}

),

final as (

    select
        coalesce(activity.program_id, ratings.program_id) as program_id,
        coalesce(activity.user_id, ratings.user_id) as user_id,
        coalesce(activity.anonymous_id, ratings.anonymous_id) as anonymous_id,
        coalesce(activity.user_id, activity.anonymous_id, ratings.user_id) as member_id,
        coalesce(activity.activity_date, ratings.activity_date) as activity_date,
        coalesce(activity.views, 0) as views,
        coalesce(activity.purchases, 0) as purchases,
        coalesce(activity.gross_revenue, 0) as gross_revenue,
        coalesce(activity.refunds, 0) as refunds,
        coalesce(activity.refunded_amount, 0) as refunded_amount,
        coalesce(activity.trainer_payout, 0) as trainer_payout,
        coalesce(ratings.rating_sum, 0) as rating_sum,
        coalesce(ratings.ratings, 0) as ratings
    from activity
    full outer join ratings
        on activity.program_id = ratings.program_id
        and activity.user_id = ratings.user_id
        and activity.activity_date = ratings.activity_date

)

select * from final
