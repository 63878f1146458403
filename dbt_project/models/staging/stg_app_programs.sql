with

source as (

    select * from {{ source('lake', 'app_programs') }}

),

renamed as (

    select
        ----------  ids
        program_id,
        trainer_id,

        ----------  attributes
        title as program_title,
        category as program_category,
        level as program_level,

        ----------  numerics
        cast(price as decimal(12, 2)) as list_price,

        ----------  timestamps (UTC)
        _exported_at as exported_at

    from source

)

select * from renamed
