with

funnel as (

    select * from {{ ref('eng_signup_funnel') }}

),

final as (

    select
        signup_date,
        count(*) as signups,
        count(*) filter (where converted_workout_within_window) as workout_within_window,
        count(*) filter (where converted_purchase_within_window) as purchase_within_window,
        count(*) filter (where converted_subscription_within_window) as subscription_within_window,
        count(*) filter (where converted_within_window) as converted_within_window,
        count(*) filter (where converted_after_workout_within_window) as converted_after_workout_within_window,
        count(*) filter (where converted_workout_within_window) / count(*) as workout_rate,
        count(*) filter (where converted_within_window) / count(*) as conversion_rate,
        count(*) filter (where converted_after_workout_within_window) / count(*) as ordered_conversion_rate,
        median(hours_to_first_workout) filter (where converted_workout_within_window)
            as median_hours_to_first_workout,
        median(hours_to_first_conversion) filter (where converted_within_window)
            as median_hours_to_conversion,
        max(funnel_window_days) as funnel_window_days,
        bool_and(is_window_complete) as is_window_complete
    from funnel
    group by signup_date

)

select * from final
