with

source as (

    select * from {{ source('lake', 'app_trainers') }}

),

renamed as (

    select
        ----------  ids
        trainer_id,

        ----------  attributes
        name as trainer_handle,
        specialty as trainer_specialty,

        ----------  numerics
        commission_rate,

        ----------  timestamps (UTC)
        _exported_at as exported_at

    from source

)

select * from renamed
