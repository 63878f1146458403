{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='kpi_date',
        tags=['daily'],
    )
}}

with

events as (

    select * from {{ ref('stg_events') }}
    where {{ event_date_window('event_date', this_column='kpi_date') }}

),

date_spine as (

    -- Every UTC day from the first to the last event date (of the rebuilt window on incremental
    -- runs), so quiet days show as zeros.
    select cast(spine_day as date) as kpi_date
    from (
        select
            min(event_date) as first_date,
            max(event_date) as last_date
        from events
    ) as bounds,
    unnest(generate_series(bounds.first_date, bounds.last_date, interval 1 day)) as days (spine_day)

),

daily as (

    select
        event_date as kpi_date,
        count(distinct user_id) filter (where {{ is_activity_event() }}) as dau,
        count(distinct user_id) filter (where event_name = 'Signed Up') as new_users,
        {{ exact_sum("case when event_name in " ~ sql_string_list(gross_revenue_events()) ~ " then revenue end") }}
            as gross_revenue,
        {{ exact_sum("case when event_name in " ~ sql_string_list(refund_events()) ~ " then abs(revenue) end") }}
            as refunds,
        {{ exact_sum("case when event_name in " ~ sql_string_list(subscription_revenue_events()) ~ " then revenue end") }}
            as subscription_revenue,
        {{ exact_sum("case when event_name in " ~ sql_string_list(program_purchase_events()) ~ " then revenue end") }}
            as program_revenue,
        count(*) filter (where event_name = 'Workout Completed') as workouts_completed
    from events
    group by event_date

),

final as (

    select
        date_spine.kpi_date,
        coalesce(daily.dau, 0) as dau,
        coalesce(daily.new_users, 0) as new_users,
        coalesce(daily.gross_revenue, 0) as gross_revenue,
        coalesce(daily.refunds, 0) as refunds,
        coalesce(daily.gross_revenue, 0) - coalesce(daily.refunds, 0) as revenue,
        coalesce(daily.subscription_revenue, 0) as subscription_revenue,
        coalesce(daily.program_revenue, 0) as program_revenue,
        coalesce(daily.workouts_completed, 0) as workouts_completed
    from date_spine
    left join daily using (kpi_date)

)

select * from final
