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

account as (

    select *
    from events
    where event_name in ('Signed Up', 'Consent Updated')
        or event_type = 'identify'

),

renamed as (

    select
        ----------  ids
        message_id,
        user_id,
        anonymous_id,

        ----------  event
        case
            when event_name = 'Signed Up' then 'signed_up'
            when event_name = 'Consent Updated' then 'consent_updated'
            else 'identify'
        end as account_action,
        platform,

        ----------  Signed Up
        json_extract_string(properties, '$.method') as signup_method,
        lower(coalesce(
            json_extract_string(properties, '$.acquisition_channel'),
            json_extract_string(properties, '$.channel'),
            json_extract_string(context, '$.campaign.source')
        )) as signup_channel,

        ----------  identify traits (PII already pseudonymized; only non-PII traits pulled out)
        json_extract_string(traits, '$.plan') as trait_plan,
        lower(json_extract_string(traits, '$.acquisition_channel')) as trait_acquisition_channel,
        lower(json_extract_string(traits, '$.platform')) as trait_platform,

        ----------  Consent Updated
        try_cast(json_extract_string(properties, '$.analytics') as boolean) as consent_analytics,
        try_cast(json_extract_string(properties, '$.marketing') as boolean) as consent_marketing,
        try_cast(json_extract_string(properties, '$.personalization') as boolean)
            as consent_personalization,
        json_extract_string(properties, '$.source') as consent_source,

        ----------  timestamps (UTC)
        event_at,
        event_date

    from account

)

select * from renamed
