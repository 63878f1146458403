with

subscription_state as (

    select * from {{ ref('int_subscription_state') }}

),

events as (

    select * from {{ ref('stg_events') }}

),

date_spine as (

    select cast(spine_day as date) as mrr_date
    from (select min(event_date) as first_date, max(event_date) as last_date from events) as bounds,
        unnest(generate_series(bounds.first_date, bounds.last_date, interval 1 day)) as days (spine_day)

),

daily as (

    select
        state_date as mrr_date,
        sum(mrr) as mrr,
        count(*) filter (where mrr > 0) as paying_subscribers,
        count(*) filter (where status = 'past_due') as past_due_subscribers,
        sum(mrr) filter (where billing_period = 'monthly') as mrr_monthly_plans,
        sum(mrr) filter (where billing_period = 'annual') as mrr_annual_plans
    from subscription_state
    group by state_date

),

final as (

    select
        date_spine.mrr_date,
        coalesce(daily.mrr, 0) as mrr,
        coalesce(daily.paying_subscribers, 0) as paying_subscribers,
        coalesce(daily.past_due_subscribers, 0) as past_due_subscribers,
        coalesce(daily.mrr_monthly_plans, 0) as mrr_monthly_plans,
        coalesce(daily.mrr_annual_plans, 0) as mrr_annual_plans,
        coalesce(daily.mrr, 0) / nullif(daily.paying_subscribers, 0) as arpa
    from date_spine
    left join daily on date_spine.mrr_date = daily.mrr_date

)

select * from final
