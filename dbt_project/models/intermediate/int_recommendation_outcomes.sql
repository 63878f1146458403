{#- A view: the daily-incremental ai_* marts read it, and a daily-partitioned run must see its own
    days' recommendations without a separate rebuild of this model. -#}
{{ config(materialized='view') }}

with

recommendation_events as (

    select * from {{ ref('stg_recommendation_events') }}
    where recommendation_id is not null

),

safety_flags as (

    select * from {{ ref('stg_safety_flags') }}
    where recommendation_id is not null

),

shown as (

    select
        recommendation_id,
        arg_min(user_id, event_at) as user_id,
        arg_min(model_version, event_at) as model_version,
        arg_min(workout_id, event_at) as workout_id,
        arg_min(position, event_at) as position,
        min(event_at) as shown_at
    from recommendation_events
    where recommendation_event_type = 'shown'
    group by recommendation_id

),

outcomes as (

    -- The member's first response decides the outcome (accepted, rejected or modified).
    select
        recommendation_id,
        arg_min(recommendation_event_type, event_at) as outcome,
        min(event_at) as outcome_at,
        arg_min(modification, event_at) as modification
    from recommendation_events
    where recommendation_event_type in ('accepted', 'rejected', 'modified')
    group by recommendation_id

),

ratings as (

    select
        recommendation_id,
        arg_max(rating, event_at) as rating,
        max(event_at) as rated_at
    from recommendation_events
    where recommendation_event_type = 'rated' and rating is not null
    group by recommendation_id

),

flags as (

    select
        recommendation_id,
        count(*) as safety_flags,
        max(case severity when 'critical' then 4 when 'high' then 3 when 'medium' then 2 when 'low' then 1 else 0 end)
            as max_severity_rank
    from safety_flags
    group by recommendation_id

),

final as (

    select
        shown.recommendation_id,
        shown.user_id,
        shown.model_version,
        shown.workout_id,
        shown.position,
        shown.shown_at,
        cast(shown.shown_at as date) as shown_date,
        coalesce(outcomes.outcome, 'no_response') as outcome,
        outcomes.outcome_at,
        date_diff('millisecond', shown.shown_at, outcomes.outcome_at) / 1000.0
            as seconds_to_outcome,
        outcomes.modification,
        ratings.rating,
        ratings.rated_at,
        coalesce(flags.safety_flags, 0) as safety_flags,
        case flags.max_severity_rank
            when 4 then 'critical' when 3 then 'high' when 2 then 'medium' when 1 then 'low'
        end as max_flag_severity
    from shown
    left join outcomes on outcomes.recommendation_id = shown.recommendation_id
    left join ratings on ratings.recommendation_id = shown.recommendation_id
    left join flags on flags.recommendation_id = shown.recommendation_id

)

select * from final
