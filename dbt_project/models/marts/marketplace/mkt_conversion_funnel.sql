with

funnel as (

    select * from {{ ref('int_purchase_funnel_steps') }}
    where is_viewed

),

final as (

    -- Cohorts of (user, program) pairs by the day of the first view; later steps are credited to
    -- that day whenever they happen, so recent days still fill up.
    select
        first_viewed_date as funnel_date,
        count(*) as viewed_pairs,
        count(distinct user_id) as viewing_users,
        count(*) filter (where is_purchased_after_view) as purchased_pairs,
        count(distinct user_id) filter (where is_purchased_after_view) as purchasing_users,
        count(*) filter (where is_purchased_after_view and refunds = 0) as kept_pairs,
        count(*) filter (where is_purchased_after_view) / count(*) as view_to_purchase_rate,
        count(*) filter (where is_purchased_after_view and refunds = 0)
            / nullif(count(*) filter (where is_purchased_after_view), 0) as purchase_kept_rate,
        count(*) filter (where is_purchased_after_view and refunds = 0) / count(*)
            as view_to_kept_rate,
        median(hours_view_to_purchase) filter (where is_purchased_after_view)
            as median_hours_view_to_purchase
    from funnel
    group by first_viewed_date

)

select * from final
