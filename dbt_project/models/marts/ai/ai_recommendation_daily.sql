{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='activity_date',
    tags=['daily'],
) }}

with

outcomes as (

    select * from {{ ref('int_recommendation_outcomes') }} as recommendation_outcomes
    where {{ event_date_window('shown_date', this_column='activity_date') }}
        -- only members who had personalization consent when the recommendation was shown
        and {{ had_consent('recommendation_outcomes.user_id', 'recommendation_outcomes.shown_at',
                           'personalization') }}

),

users as (

    select * from {{ ref('dim_users') }}

),

subscription_state as (

    select * from {{ ref('int_subscription_state') }}

),

segmented as (

    select
        outcomes.*,
        coalesce(users.acquisition_channel, 'unknown') as acquisition_channel,
        -- The member's plan on the day: a paid plan while the subscription contributes MRR, as
        -- known from events up to that day (opening balances are inferred from later events, so
        -- they would change past days after the lookback: not used).
        case
            when subscription_state.mrr > 0 and subscription_state.state_event <> 'opening_balance'
                then subscription_state.plan_id
            else 'free'
        end as plan_tier
    from outcomes
    left join users on users.user_id = outcomes.user_id
    left join subscription_state
        on subscription_state.user_id = outcomes.user_id
        and subscription_state.state_date = outcomes.shown_date

),

final as (

    select
        shown_date as activity_date,
        coalesce(model_version, 'unknown') as model_version,
        acquisition_channel,
        plan_tier,
        count(*) as shown,
        count(*) filter (where outcome = 'accepted') as accepted,
        count(*) filter (where outcome = 'rejected') as rejected,
        count(*) filter (where outcome = 'modified') as modified,
        count(*) filter (where outcome = 'no_response') as no_response,
        count(*) filter (where outcome = 'accepted') / count(*) as acceptance_rate,
        count(*) filter (where outcome = 'rejected') / count(*) as rejection_rate,
        count(*) filter (where outcome = 'modified') / count(*) as modification_rate,
        count(rating) as ratings,
        avg(rating) as avg_rating,
        sum(safety_flags) as safety_flags,
        median(seconds_to_outcome) as median_seconds_to_outcome,
        count(distinct user_id) as users
    from segmented
    group by all

)

select * from final
