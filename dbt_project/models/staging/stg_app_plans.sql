with

source as (

    select * from {{ source('lake', 'app_plans') }}

),

renamed as (

    select
        ----------  ids
        plan_id,

        ----------  attributes
        name as plan_name,
        billing_period,

        ----------  numerics
        monthly_price,

        ----------  timestamps (UTC)
        _exported_at as exported_at

    from source

)

select * from renamed
