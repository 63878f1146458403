{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='request_date',
    tags=['daily'],
) }}

with

requests as (

    select * from {{ ref('stg_api_requests') }}
    where {{ event_date_window('event_date', this_column='request_date') }}

),

final as (

    select
        event_date as request_date,
        request_hour,
        endpoint,
        count(*) as requests,
        count(latency_ms) as timed_requests,
        quantile_cont(latency_ms, 0.50) as p50_latency_ms,
        quantile_cont(latency_ms, 0.95) as p95_latency_ms,
        quantile_cont(latency_ms, 0.99) as p99_latency_ms,
        {{ exact_sum('latency_ms') }} / count(latency_ms) as avg_latency_ms,
        max(latency_ms) as max_latency_ms,
        count(*) filter (where is_server_error) as server_errors,
        count(*) filter (where is_client_error) as client_errors,
        count(*) filter (where is_server_error) / count(*) as error_rate,
        count(*) filter (where is_client_error) / count(*) as client_error_rate
    from requests
    group by event_date, request_hour, endpoint

)

select * from final
