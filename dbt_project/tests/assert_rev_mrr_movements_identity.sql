-- MRR movements add up: starting + new + expansion - contraction - churned + reactivated = ending,
-- a month starts where the previous one ended, and the ending MRR is rev_mrr_daily's on the
-- month's last day of data. Returns the offending months.
with

movements as (

    select * from {{ ref('rev_mrr_movements') }}

),

daily as (

    select * from {{ ref('rev_mrr_daily') }}

),

checked as (

    select
        movements.*,
        lag(movements.ending_mrr) over (order by movements.mrr_month) as previous_ending_mrr,
        (
            select daily.mrr
            from daily
            where daily.mrr_date <= last_day(movements.mrr_month)
            order by daily.mrr_date desc
            limit 1
        ) as daily_mrr_at_month_end
    from movements

)

select *
from checked
where abs(
        starting_mrr + new_mrr + expansion_mrr - contraction_mrr - churned_mrr + reactivated_mrr
        - ending_mrr
    ) > 0.005
    or abs(starting_mrr - coalesce(previous_ending_mrr, 0)) > 0.005
    or abs(ending_mrr - coalesce(daily_mrr_at_month_end, 0)) > 0.005
