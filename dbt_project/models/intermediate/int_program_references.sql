{#- Every program the events mention, with what the events say about it. dim_programs adds the
    programs the app's latest export does not list yet as inferred members (late-arriving dimension
    members), and dim_trainers their trainers. -#}

with

marketplace as (

    select * from {{ ref('stg_marketplace_events') }}
    where program_id is not null

),

workouts as (

    select * from {{ ref('stg_workout_events') }}
    where program_id is not null

),

mentions as (

    select
        program_id,
        trainer_id,
        category,
        list_price,
        marketplace_event_type,
        amount,
        event_at
    from marketplace
    union all
    select
        program_id,
        cast(null as varchar) as trainer_id,
        cast(null as varchar) as category,
        cast(null as double) as list_price,
        cast(null as varchar) as marketplace_event_type,
        cast(null as double) as amount,
        event_at
    from workouts

),

final as (

    select
        program_id,
        arg_max(trainer_id, event_at) filter (where trainer_id is not null) as trainer_id,
        arg_max(category, event_at) filter (where category is not null) as program_category,
        arg_max(list_price, event_at) filter (where list_price is not null) as list_price,
        count(*) as events,
        count(*) filter (where marketplace_event_type = 'purchased') as purchases,
        coalesce(sum(amount) filter (where marketplace_event_type = 'purchased'), 0)
            as gross_revenue,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at
    from mentions
    group by program_id

)

select * from final
