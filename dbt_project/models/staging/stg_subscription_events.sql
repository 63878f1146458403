{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        tags=['daily'],
    )
}}

with

events as (

    select * from {{ ref('stg_events') }}
    where {{ event_date_window('event_date') }}
        and event_name in {{ sql_string_list(subscription_state_events()) }}
        and user_id is not null

),

typed as (

    select
        message_id,
        user_id,
        event_name,
        case event_name
            when 'Subscription Started' then 'started'
            when 'Subscription Renewed' then 'renewed'
            when 'Subscription Cancelled' then 'cancelled'
            when 'Payment Failed' then 'payment_failed'
        end as subscription_event_type,
        coalesce(
            json_extract_string(properties, '$.plan'),
            json_extract_string(properties, '$.plan_id')
        ) as plan_id,
        json_extract_string(properties, '$.billing_period') as billing_period_sent,
        revenue,
        try_cast(json_extract_string(properties, '$.amount') as double) as amount_sent,
        json_extract_string(properties, '$.currency') as currency,
        try_cast(json_extract_string(properties, '$.attempt') as integer) as attempt,
        json_extract_string(properties, '$.reason') as reason,
        event_at,
        received_at,
        event_date
    from events

),

final as (

    select
        message_id,
        user_id,
        event_name,
        subscription_event_type,
        plan_id,
        {{ billing_period_of('billing_period_sent', 'plan_id') }} as billing_period,
        coalesce(revenue, amount_sent) as amount,
        case when subscription_event_type in ('started', 'renewed') then coalesce(revenue, 0) end
            as revenue,
        currency,
        attempt,
        reason,
        event_at,
        received_at,
        event_date
    from typed

)

select * from final
