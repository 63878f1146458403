with

programs as (

    select * from {{ ref('stg_app_programs') }}

),

program_references as (

    select * from {{ ref('int_program_references') }}

),

trainers as (

    select * from {{ ref('dim_trainers') }}

),

members as (

    select
        program_id,
        trainer_id,
        program_title,
        program_category,
        program_level,
        list_price,
        false as is_inferred
    from programs
    union all
    -- Late-arriving members (Kimball's inferred members): programs the events mention before the
    -- app's export lists them (a program sold minutes after it was created), with what the events
    -- say about them. The table is rebuilt on every run, so the export's row replaces the
    -- inferred one as soon as the export lists the program.
    select
        program_references.program_id,
        program_references.trainer_id,
        cast(null as varchar) as program_title,
        program_references.program_category,
        cast(null as varchar) as program_level,
        cast(program_references.list_price as decimal(12, 2)) as list_price,
        true as is_inferred
    from program_references
    where not exists (
        select 1 from programs where programs.program_id = program_references.program_id
    )

),

final as (

    select
        members.program_id,
        members.trainer_id,
        members.program_title,
        members.program_category,
        members.program_level,
        members.list_price,
        trainers.trainer_handle,
        trainers.commission_rate,
        cast(members.list_price * (1 - trainers.commission_rate) as decimal(12, 2))
            as trainer_payout_per_sale,
        members.is_inferred
    from members
    left join trainers on members.trainer_id = trainers.trainer_id

)

select * from final
