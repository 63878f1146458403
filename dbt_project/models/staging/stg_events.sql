with

source as (

    select * from {{ source('lake', 'events') }}

),

deduplicated as (

    -- A client resend repeats the message_id with the same content: keep the first copy received.
    select *
    from source
    qualify row_number() over (
        partition by message_id
        order by received_at, collector_id, sequence
    ) = 1

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
        event_date

    from deduplicated

)

select * from renamed
