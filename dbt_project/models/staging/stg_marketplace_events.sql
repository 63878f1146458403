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
        and event_name in {{ sql_string_list(marketplace_funnel_events()) }}

),

final as (

    select
        message_id,
        user_id,
        anonymous_id,
        event_name,
        case event_name
            when 'Program Viewed' then 'viewed'
            when 'Program Purchased' then 'purchased'
            when 'Program Refunded' then 'refunded'
            when 'Trainer Followed' then 'trainer_followed'
        end as marketplace_event_type,
        json_extract_string(properties, '$.order_id') as order_id,
        json_extract_string(properties, '$.program_id') as program_id,
        json_extract_string(properties, '$.trainer_id') as trainer_id,
        json_extract_string(properties, '$.category') as category,
        try_cast(json_extract_string(properties, '$.price') as double) as list_price,
        -- Refund amounts are positive whatever sign the app sent (as in exec_daily_kpis).
        case
            when event_name in {{ sql_string_list(refund_events()) }} then abs(revenue)
            else revenue
        end as amount,
        try_cast(json_extract_string(properties, '$.commission_rate') as double) as commission_rate,
        try_cast(json_extract_string(properties, '$.trainer_payout') as double) as trainer_payout,
        json_extract_string(properties, '$.currency') as currency,
        case when event_name in {{ sql_string_list(refund_events()) }}
            then json_extract_string(properties, '$.reason')
        end as refund_reason,
        platform,
        event_at,
        received_at,
        event_date
    from events

)

select * from final
