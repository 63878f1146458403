{#- Members' ratings of a program's workouts, per program, member and UTC day: the one definition
    of a program's rating that mkt_program_performance (all history) and mkt_program_member_daily
    (by day) total. -#}

with

workouts as (

    select * from {{ ref('fct_workouts') }}

),

recommendations as (

    select * from {{ ref('stg_recommendation_events') }}

),

workout_programs as (

    -- Which program a workout belongs to, as the workout player reports it.
    select
        workout_id,
        arg_max(program_id, coalesce(started_at, completed_at)) as program_id
    from workouts
    where workout_id is not null and program_id is not null
    group by workout_id

),

final as (

    select
        workout_programs.program_id,
        recommendations.user_id,
        recommendations.event_date as rating_date,
        sum(recommendations.rating) as rating_sum,
        count(*) as ratings
    from recommendations
    inner join workout_programs on recommendations.workout_id = workout_programs.workout_id
    where recommendations.recommendation_event_type = 'rated' and recommendations.rating is not null
    group by 1, 2, 3

)

select * from final
