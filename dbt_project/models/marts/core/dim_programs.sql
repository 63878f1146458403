with

programs as (

    select * from {{ ref('stg_app_programs') }}

),

trainers as (

    select * from {{ ref('stg_app_trainers') }}

),

final as (

    select
        programs.program_id,
        programs.trainer_id,
        programs.program_title,
        programs.program_category,
        programs.program_level,
        programs.list_price,
        trainers.trainer_handle,
        trainers.commission_rate,
        cast(programs.list_price * (1 - trainers.commission_rate) as decimal(12, 2))
            as trainer_payout_per_sale
    from programs
    left join trainers on programs.trainer_id = trainers.trainer_id

)

select * from final
