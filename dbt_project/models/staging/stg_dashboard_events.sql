{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        tags=['daily'],
    )
}}

with

source as (

    -- Pulse's own usage events (the dashboards', lake/internal_source.py), which stg_events
    -- leaves out. The second reader of bronze/events: the window prunes partitions as in
    -- stg_events, and the anonymous_id filter is pushed into the scan, so the other columns are
    -- read for these few rows only.
    select *
    from {{ source('lake', 'events') }}
    where {{ event_date_window('event_date') }}
        and anonymous_id in {{ sql_string_list(internal_anonymous_ids()) }}
        and type = 'track'

),

deduplicated as (

    -- The client retries a batch it could not deliver: keep the first copy received.
    select *
    from source
    qualify row_number() over (
        partition by event_date, message_id
        order by received_at, collector_id, sequence
    ) = 1

),

parsed as (

    select
        *,
        json_extract_string(
            properties, ['$.page', '$.role', '$.kind', '$.dashboard_id']
        ) as fields
    from deduplicated

),

renamed as (

    select
        ----------  ids
        message_id,
        user_id as account_id,
        source_id,

        ----------  event
        event as event_name,
        case event
            when 'Dashboard Viewed' then 'view'
            when 'Filter Changed' then 'filter_change'
            when 'Export Downloaded' then 'export'
            when 'Dashboard Saved' then 'save'
            else 'other'
        end as usage_kind,
        nullif(fields[1], '') as page,
        fields[2] as role,
        fields[3] as export_kind,
        fields[4] as dashboard_id,
        json_extract_string(properties, '$.filters') as filters_changed,

        ----------  timestamps (UTC)
        "timestamp" as event_at,
        received_at,
        event_date

    from parsed

)

select * from renamed
