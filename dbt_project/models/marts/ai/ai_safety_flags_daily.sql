{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='flag_date',
    tags=['daily'],
) }}

with

flags as (

    select * from {{ ref('stg_safety_flags') }}
    where {{ event_date_window('event_date', this_column='flag_date') }}

),

shown as (

    select
        shown_date,
        model_version,
        count(*) as recommendations_shown
    from {{ ref('int_recommendation_outcomes') }}
    where {{ event_date_window('shown_date', this_column='flag_date') }}
    group by all

),

daily_flags as (

    select
        event_date as flag_date,
        coalesce(model_version, 'unknown') as model_version,
        flag_type,
        severity,
        count(*) as flags,
        count(distinct user_id) as flagged_users,
        count(distinct recommendation_id) as flagged_recommendations
    from flags
    group by all

),

final as (

    select
        daily_flags.*,
        coalesce(shown.recommendations_shown, 0) as recommendations_shown,
        daily_flags.flags / nullif(shown.recommendations_shown, 0) as flags_per_recommendation
    from daily_flags
    left join shown
        on shown.shown_date = daily_flags.flag_date
        and shown.model_version = daily_flags.model_version

)

select * from final
