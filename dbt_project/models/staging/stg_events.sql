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

    -- Only the days being rebuilt: event_date is the Delta partition column and the window is a
    -- constant, so DuckDB pushes it into the Arrow scan and reads only those partitions
    -- (lake/dbt_plugin.py). The only model that reads bronze/events.
    select *
    from {{ source('lake', 'events') }}
    where {{ event_date_window('event_date') }}

),

resent as (

    -- A client resend repeats the message_id with the same content; its skew-corrected time is
    -- the same or seconds later, so the same event_date (see the YAML for the midnight edge case):
    -- dedupe within the day, keeping the first copy received. Found on narrow columns only (a
    -- hash aggregate): a window over the whole rows sorted every JSON payload, the most expensive
    -- step of the project. Resent messages are few; all others pass through untouched.
    select
        event_date,
        message_id,
        count(*) as received_copies,
        min((received_at, collector_id, sequence)) as first_copy
    from source
    group by event_date, message_id
    having count(*) > 1

),

deduplicated as (

    -- (collector_id, sequence) is unique per bronze row (lake/ingest.py), so exactly one copy
    -- of a resent message matches its first_copy.
    select
        source.*,
        -- Rows bronze holds for this message on this day (1 + resends): sys_pipeline_health
        -- counts rows landed from it instead of reading bronze again.
        coalesce(resent.received_copies, 1) as received_copies
    from source
    left join resent
        on source.event_date = resent.event_date
        and source.message_id = resent.message_id
    where resent.message_id is null
        or (source.received_at, source.collector_id, source.sequence) = resent.first_copy

),

renamed as (

    select

        ----------  ids
        message_id,
        user_id,
        anonymous_id,
        source_id,

        ----------  event
        type as event_type,
        case type
            when 'track' then coalesce(event, '(unnamed)')
            when 'screen' then 'screen:' || coalesce(name, '(unnamed)')
            when 'page' then 'page:' || coalesce(name, '(unnamed)')
            else type
        end as event_name,
        lower(coalesce(
            json_extract_string(context, '$.device.type'),
            json_extract_string(context, '$.os.name')
        )) as platform,
        try_cast(json_extract_string(properties, '$.revenue') as double) as revenue,

        ----------  JSON payloads (PII already masked upstream)
        context,
        properties,
        traits,

        ----------  timestamps (UTC)
        "timestamp" as event_at,
        original_timestamp as original_at,
        received_at,
        event_date,

        ----------  lineage
        received_copies

    from deduplicated

)

select * from renamed
