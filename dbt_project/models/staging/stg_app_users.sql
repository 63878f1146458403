with

source as (

    select * from {{ source('lake', 'app_users') }}

),

renamed as (

    select
        ----------  ids
        user_id,
        anonymous_id,

        ----------  attributes (pseudonymized export: no PII)
        lower(acquisition_channel) as acquisition_channel,
        lower(platform) as platform,
        country,
        locale,
        age_band,
        fitness_goal,
        plan as plan_id,
        status as account_status,

        ----------  timestamps (UTC)
        signup_at,
        _exported_at as exported_at

    from source

)

select * from renamed
