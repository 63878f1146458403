{#- A view: the daily-incremental ai_recommendation_daily reads it, and a daily-partitioned run
    must see the subscription state of its own days without a separate rebuild of this model. -#}
{{ config(materialized='view') }}

{%- set grace_days = var('subscription_grace_days', 7) %}

with

subscription_events as (

    select * from {{ ref('stg_subscription_events') }}

),

events as (

    select * from {{ ref('stg_events') }}

),

app_users as (

    select * from {{ ref('stg_app_users') }}

),

app_plans as (

    select * from {{ ref('stg_app_plans') }}

),

data_range as (

    -- The days the lake covers: a user's state is known up to the newest event date.
    select
        min(event_date) as first_date,
        max(event_date) as last_date
    from events

),

plan_prices as (

    -- Latest billed price of each plan (for opening balances that only a cancellation reveals).
    select
        plan_id,
        arg_max(amount, event_at) as plan_price,
        arg_max(billing_period, event_at) as billing_period
    from subscription_events
    where subscription_event_type in ('started', 'renewed') and amount is not null
    group by plan_id

),

end_of_day_events as (

    -- The state at the end of a day is set by the user's last subscription event that day.
    select *
    from subscription_events
    qualify row_number() over (
        partition by user_id, event_date order by event_at desc, message_id desc
    ) = 1

),

state_changes as (

    select
        end_of_day_events.user_id,
        end_of_day_events.event_date as valid_from,
        end_of_day_events.subscription_event_type as state_event,
        case end_of_day_events.subscription_event_type
            when 'started' then 'active'
            when 'renewed' then 'active'
            when 'payment_failed' then 'past_due'
            when 'cancelled' then 'cancelled'
        end as status,
        end_of_day_events.plan_id,
        coalesce(end_of_day_events.billing_period, plan_prices.billing_period) as billing_period,
        coalesce(end_of_day_events.amount, plan_prices.plan_price) as plan_price,
        case end_of_day_events.subscription_event_type
            when 'payment_failed' then end_of_day_events.event_date + interval {{ grace_days }} day
            when 'cancelled' then null
            else end_of_day_events.event_date
                + {{ billing_period_interval('coalesce(end_of_day_events.billing_period, plan_prices.billing_period)') }}
                + interval {{ grace_days }} day
        end as expires_on
    from end_of_day_events
    left join plan_prices on end_of_day_events.plan_id = plan_prices.plan_id

),

first_events as (

    select *
    from state_changes
    qualify row_number() over (partition by user_id order by valid_from) = 1

),

opening_balances as (

    -- A user whose first event is a renewal, a failed payment or a cancellation was already
    -- subscribed when the data starts: active on that plan from the first day of data.
    select
        first_events.user_id,
        data_range.first_date as valid_from,
        'opening_balance' as state_event,
        'active' as status,
        first_events.plan_id,
        first_events.billing_period,
        coalesce(
            case when first_events.state_event = 'cancelled' then null else first_events.plan_price end,
            plan_prices.plan_price
        ) as plan_price,
        cast(null as date) as expires_on
    from first_events
    cross join data_range
    left join plan_prices on first_events.plan_id = plan_prices.plan_id
    where first_events.state_event <> 'started'
        and first_events.valid_from > data_range.first_date

),

snapshot_opening_balances as (

    -- A subscriber who sends no subscription event inside the data (e.g. an annual plan paid
    -- before it began) is known only from the app's users export: active on its paid plan from
    -- the first day of data (or the signup day, if later) on. Priced like the other opening
    -- balances (latest billed price of the plan), else from the plans export.
    select
        app_users.user_id,
        greatest(data_range.first_date, cast(app_users.signup_at as date)) as valid_from,
        'opening_balance' as state_event,
        'active' as status,
        app_users.plan_id,
        coalesce(plan_prices.billing_period, app_plans.billing_period) as billing_period,
        coalesce(
            plan_prices.plan_price,
            app_plans.monthly_price * case app_plans.billing_period when 'annual' then 12 else 1 end
        ) as plan_price,
        cast(null as date) as expires_on
    from app_users
    inner join app_plans on app_users.plan_id = app_plans.plan_id
    cross join data_range
    left join plan_prices on app_users.plan_id = plan_prices.plan_id
    where app_plans.monthly_price > 0
        and not exists (
            select 1 from subscription_events
            where subscription_events.user_id = app_users.user_id
        )

),

all_changes as (

    select * from state_changes
    union all
    select * from opening_balances
    union all
    select * from snapshot_opening_balances

),

intervals as (

    select
        all_changes.*,
        coalesce(
            lead(valid_from) over (partition by user_id order by valid_from) - interval 1 day,
            data_range.last_date
        ) as valid_to
    from all_changes
    cross join data_range

),

days as (

    select
        intervals.*,
        cast(state_day as date) as state_date
    from intervals,
        unnest(generate_series(intervals.valid_from, intervals.valid_to, interval 1 day)) as s (state_day)

),

final as (

    select
        user_id,
        state_date,
        case
            when status in ('active', 'past_due') and state_date >= expires_on then 'expired'
            else status
        end as status,
        plan_id,
        billing_period,
        plan_price,
        case
            when status in ('active', 'past_due') and not coalesce(state_date >= expires_on, false)
                then coalesce({{ monthly_recurring_amount('plan_price', 'billing_period') }}, 0)
            else 0
        end as mrr,
        state_event,
        valid_from as state_event_date,
        cast(expires_on as date) as expires_on
    from days

)

select * from final
