with

source as (

    select * from {{ source('lake', 'consent') }}

),

deduplicated as (

    -- A bulk re-load repeats a consent message: keep its first received copy.
    select *
    from source
    qualify row_number() over (
        partition by message_id
        order by received_at, collector_id, sequence
    ) = 1

),

final as (

    select
        message_id,
        user_id,
        anonymous_id,
        analytics,
        marketing,
        personalization,
        source as consent_source,
        effective_at,
        received_at,
        collector_id,
        sequence
    from deduplicated

)

select * from final
