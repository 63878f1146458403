with

trainers as (

    select * from {{ ref('stg_app_trainers') }}

),

programs as (

    select * from {{ ref('stg_app_programs') }}

),

program_counts as (

    select
        trainer_id,
        count(*) as programs,
        avg(list_price) as avg_list_price,
        string_agg(distinct program_category, ',' order by program_category) as program_categories
    from programs
    group by trainer_id

),

final as (

    select
        trainers.trainer_id,
        trainers.trainer_handle,
        trainers.trainer_specialty,
        trainers.commission_rate,
        coalesce(program_counts.programs, 0) as programs,
        program_counts.avg_list_price,
        program_counts.program_categories
    from trainers
    left join program_counts on trainers.trainer_id = program_counts.trainer_id

)

select * from final
