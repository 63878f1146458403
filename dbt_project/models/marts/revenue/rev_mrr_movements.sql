with

subscription_state as (

    select * from {{ ref('int_subscription_state') }}

),

month_ends as (

    -- The MRR of a month is the MRR at the end of its last day in the data (the newest day for
    -- the current, incomplete month).
    select
        cast(date_trunc('month', state_date) as date) as mrr_month,
        max(state_date) as snapshot_date
    from subscription_state
    group by 1

),

month_sequence as (

    select
        mrr_month,
        snapshot_date,
        lag(snapshot_date) over (order by mrr_month) as previous_snapshot_date,
        snapshot_date = last_day(mrr_month) as is_complete_month
    from month_ends

),

user_month_mrr as (

    select
        month_sequence.mrr_month,
        subscription_state.user_id,
        subscription_state.mrr
    from month_sequence
    inner join subscription_state
        on subscription_state.state_date = month_sequence.snapshot_date

),

first_paid as (

    select
        user_id,
        min(state_date) as first_paid_date
    from subscription_state
    where mrr > 0
    group by user_id

),

users as (

    select distinct user_id from subscription_state

),

user_months as (

    -- Every subscriber × month, with the MRR at this and the previous month end (0 when absent).
    select
        month_sequence.mrr_month,
        month_sequence.is_complete_month,
        users.user_id,
        coalesce(current_month.mrr, 0) as ending_mrr,
        coalesce(previous_month.mrr, 0) as starting_mrr,
        first_paid.first_paid_date
    from month_sequence
    cross join users
    left join user_month_mrr as current_month
        on current_month.mrr_month = month_sequence.mrr_month
        and current_month.user_id = users.user_id
    left join user_month_mrr as previous_month
        on previous_month.mrr_month = cast(month_sequence.mrr_month - interval 1 month as date)
        and previous_month.user_id = users.user_id
    left join first_paid on first_paid.user_id = users.user_id

),

classified as (

    select
        *,
        case
            when starting_mrr = 0 and ending_mrr > 0 and first_paid_date >= mrr_month then ending_mrr
            else 0
        end as new_mrr,
        case
            when starting_mrr = 0 and ending_mrr > 0 and first_paid_date < mrr_month then ending_mrr
            else 0
        end as reactivated_mrr,
        case
            when starting_mrr > 0 and ending_mrr > starting_mrr then ending_mrr - starting_mrr
            else 0
        end as expansion_mrr,
        case
            when starting_mrr > 0 and ending_mrr > 0 and ending_mrr < starting_mrr
                then starting_mrr - ending_mrr
            else 0
        end as contraction_mrr,
        case when starting_mrr > 0 and ending_mrr = 0 then starting_mrr else 0 end as churned_mrr
    from user_months

),

final as (

    select
        mrr_month,
        bool_and(is_complete_month) as is_complete_month,
        round(sum(starting_mrr), 4) as starting_mrr,
        round(sum(new_mrr), 4) as new_mrr,
        round(sum(expansion_mrr), 4) as expansion_mrr,
        round(sum(contraction_mrr), 4) as contraction_mrr,
        round(sum(churned_mrr), 4) as churned_mrr,
        round(sum(reactivated_mrr), 4) as reactivated_mrr,
        round(sum(ending_mrr), 4) as ending_mrr,
        count(*) filter (where starting_mrr > 0) as starting_subscribers,
        count(*) filter (where new_mrr > 0) as new_subscribers,
        count(*) filter (where expansion_mrr > 0) as expanded_subscribers,
        count(*) filter (where contraction_mrr > 0) as contracted_subscribers,
        count(*) filter (where churned_mrr > 0) as churned_subscribers,
        count(*) filter (where reactivated_mrr > 0) as reactivated_subscribers,
        count(*) filter (where ending_mrr > 0) as ending_subscribers
    from classified
    group by mrr_month

)

select * from final
