with

source as (

    select * from {{ source('lake', 'dashboard_accounts') }}

),

renamed as (

    select
        ----------  ids
        account_id,

        ----------  attributes
        lower(role) as role,
        origin,

        ----------  timestamps (UTC)
        created_at,
        _exported_at as exported_at

    from source

)

select * from renamed
