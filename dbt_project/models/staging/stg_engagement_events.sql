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

),

engagement as (

    select *
    from events
    where event_name in ('App Opened', 'Screen Viewed', 'Feature Used')
        or event_type = 'screen'

),

parsed as (

    -- Parse each properties document once for all its fields (one json_extract_string per field
    -- re-parsed it for each).
    select
        *,
        json_extract_string(
            properties, ['$.name', '$.screen', '$.feature', '$.from_background']
        ) as fields
    from engagement

),

renamed as (

    select
        ----------  ids
        message_id,
        user_id,
        anonymous_id,
        coalesce(user_id, anonymous_id) as user_key,

        ----------  event
        case
            when event_name = 'App Opened' then 'app_open'
            when event_name = 'Feature Used' then 'feature_use'
            else 'screen_view'
        end as engagement_kind,
        event_name,
        case
            when event_type = 'screen' then substr(event_name, length('screen:') + 1)
            when event_name = 'Screen Viewed' then coalesce(fields[1], fields[2], '(unnamed)')
        end as screen_name,
        fields[3] as feature,
        try_cast(fields[4] as boolean) as is_from_background,
        platform,

        ----------  timestamps (UTC)
        event_at,
        event_date

    from parsed

)

select * from renamed
