with

events as (

    select * from {{ ref('stg_dashboard_events') }}

),

accounts as (

    select * from {{ ref('stg_dashboard_accounts') }}

),

final as (

    select
        ----------  ids
        events.message_id,
        events.account_id,

        ----------  event
        events.event_name,
        events.usage_kind,
        events.page,
        events.export_kind,
        events.dashboard_id,
        events.filters_changed,
        -- the role the event was sent with (the account's role then) and the account's role now
        events.role as event_role,
        accounts.role as account_role,
        accounts.account_id is not null as is_known_account,

        ----------  time (UTC)
        events.event_at,
        events.event_date,
        cast(date_trunc('week', events.event_date) as date) as week_start

    from events
    left join accounts
        on events.account_id = accounts.account_id

)

select * from final
