-- A table, not a view: the source is a temp view of lake.dbt_plugin that exists only inside the
-- dbt process, so a warehouse view over it could not be read by anyone else.
{{ config(materialized='table') }}

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
