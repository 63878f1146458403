with

trainers as (

    select * from {{ ref('stg_app_trainers') }}

),

programs as (

    select * from {{ ref('stg_app_programs') }}

),

program_references as (

    select * from {{ ref('int_program_references') }}

),

marketplace as (

    select * from {{ ref('stg_marketplace_events') }}
    where trainer_id is not null

),

inferred_programs as (

    -- Programs the events mention that the export does not list yet (dim_programs' inferred members).
    select
        program_references.program_id,
        program_references.trainer_id,
        program_references.program_category,
        program_references.list_price
    from program_references
    where not exists (
        select 1 from programs where programs.program_id = program_references.program_id
    )

),

all_programs as (

    select program_id, trainer_id, program_category, cast(list_price as double) as list_price
    from programs
    union all
    select program_id, trainer_id, program_category, list_price
    from inferred_programs

),

trainer_references as (

    -- Trainers the events mention, with the commission rate sent with their latest sale.
    select
        trainer_id,
        arg_max(commission_rate, event_at) filter (
            where marketplace_event_type = 'purchased' and commission_rate is not null
        ) as commission_rate
    from marketplace
    group by trainer_id

),

inferred_trainers as (

    -- Late-arriving members: trainers the events or the programs mention before the trainers
    -- export lists them. Kept (as inferred members) so their sales stay attributed; the next
    -- rebuild after the export lists them takes the export's row instead.
    select mentioned.trainer_id
    from (
        select trainer_id from all_programs where trainer_id is not null
        union
        select trainer_id from trainer_references
    ) as mentioned
    where not exists (
        select 1 from trainers where trainers.trainer_id = mentioned.trainer_id
    )

),

members as (

    select
        trainer_id,
        trainer_handle,
        trainer_specialty,
        commission_rate,
        false as is_inferred
    from trainers
    union all
    select
        inferred_trainers.trainer_id,
        cast(null as varchar) as trainer_handle,
        cast(null as varchar) as trainer_specialty,
        trainer_references.commission_rate,
        true as is_inferred
    from inferred_trainers
    left join trainer_references on inferred_trainers.trainer_id = trainer_references.trainer_id

),

program_counts as (

    select
        trainer_id,
        count(*) as programs,
        avg(list_price) as avg_list_price,
        string_agg(distinct program_category, ',' order by program_category) as program_categories
    from all_programs
    group by trainer_id

),

final as (

    select
        members.trainer_id,
        members.trainer_handle,
        members.trainer_specialty,
        members.commission_rate,
        coalesce(program_counts.programs, 0) as programs,
        program_counts.avg_list_price,
        program_counts.program_categories,
        members.is_inferred
    from members
    left join program_counts on members.trainer_id = program_counts.trainer_id

)

select * from final
