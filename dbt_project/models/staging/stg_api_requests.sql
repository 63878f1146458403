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
        and event_name = 'API Request'

),

typed as (

    select
        message_id,
        user_id,
        json_extract_string(properties, '$.endpoint') as endpoint_path,
        -- The route template groups /v1/programs/pg_1, /v1/programs/pg_2... into one endpoint.
        coalesce(
            json_extract_string(properties, '$.route'),
            json_extract_string(properties, '$.endpoint')
        ) as endpoint,
        upper(json_extract_string(properties, '$.method')) as http_method,
        try_cast(json_extract_string(properties, '$.status') as integer) as status_code,
        try_cast(json_extract_string(properties, '$.latency_ms') as double) as latency_ms,
        event_at,
        received_at,
        event_date
    from events

),

final as (

    select
        *,
        status_code >= 500 as is_server_error,
        status_code between 400 and 499 as is_client_error,
        date_trunc('hour', event_at) as request_hour
    from typed

)

select * from final
