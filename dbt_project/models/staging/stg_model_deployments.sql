-- A table (not incremental): deployments are a handful of rows, and an empty incremental table
-- would never pick up new days outside a Dagster partition run (its max(event_date) is null).
{{ config(materialized='table') }}

with

events as (

    select * from {{ ref('stg_events') }}
    where event_name in ('Model Deployed', 'Model Rolled Back')

),

final as (

    select
        message_id,
        event_name,
        case event_name
            when 'Model Deployed' then 'deployed'
            when 'Model Rolled Back' then 'rolled_back'
        end as deployment_type,
        json_extract_string(properties, '$.model_version') as model_version,
        json_extract_string(properties, '$.previous_version') as previous_version,
        json_extract_string(properties, '$.reason') as reason,
        anonymous_id as emitted_by,
        event_at,
        received_at,
        event_date
    from events

)

select * from final
