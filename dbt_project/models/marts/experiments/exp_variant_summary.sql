with

outcomes as (

    select * from {{ ref('exp_user_outcomes') }}

),

final as (

    -- Sufficient statistics per arm over users with a complete window (a statistics engine computes
    -- proportions tests and Welch t-tests from counts, sums and sums of squares).
    select
        experiment,
        variant,
        count(*) as exposed_users,
        count(*) filter (where is_window_complete) as users,
        count(*) filter (where is_window_complete and converted_within_14d) as conversions,
        count(*) filter (where is_window_complete and converted_within_14d)
            / nullif(count(*) filter (where is_window_complete), 0) as conversion_rate,
        sum(revenue_14d) filter (where is_window_complete) as revenue_14d_sum,
        sum(revenue_14d * revenue_14d) filter (where is_window_complete) as revenue_14d_sum_squares,
        avg(revenue_14d) filter (where is_window_complete) as mean_revenue_14d,
        stddev_samp(revenue_14d) filter (where is_window_complete) as stddev_revenue_14d,
        avg(workouts_14d) filter (where is_window_complete) as mean_workouts_14d,
        stddev_samp(workouts_14d) filter (where is_window_complete) as stddev_workouts_14d,
        min(exposed_at) as first_exposed_at,
        max(exposed_at) as last_exposed_at
    from outcomes
    group by experiment, variant

)

select * from final
