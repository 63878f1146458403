{#- Validity intervals of each user's consent per category: one row per consent message that set
    the category, valid from its effective_at until the next such message of the same user and
    category (valid_to null: still in force). Before a user's first record, and for users without
    one, the default applies (var consent_default, as PULSE_CONSENT_DEFAULT at the collector). -#}

with

changes as (

    select * from {{ ref('stg_consent_changes') }}
    where user_id is not null

),

by_category as (

    select message_id, user_id, 'analytics' as category, analytics as is_granted,
        effective_at, received_at, collector_id, sequence
    from changes where analytics is not null
    union all
    select message_id, user_id, 'marketing', marketing,
        effective_at, received_at, collector_id, sequence
    from changes where marketing is not null
    union all
    select message_id, user_id, 'personalization', personalization,
        effective_at, received_at, collector_id, sequence
    from changes where personalization is not null

),

final as (

    select
        user_id,
        category,
        is_granted,
        effective_at as valid_from,
        lead(effective_at) over (
            partition by user_id, category
            order by effective_at, received_at, collector_id, sequence
        ) as valid_to,
        message_id
    from by_category

)

select * from final
