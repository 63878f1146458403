with

workout_events as (

    select * from {{ ref('stg_workout_events') }}
    where user_id is not null

),

programs as (

    select * from {{ ref('stg_app_programs') }}

),

starts as (

    select
        *,
        lead(event_at) over (
            partition by user_id, workout_id order by event_at, message_id
        ) as next_start_at
    from workout_events
    where workout_action = 'started'

),

completions as (

    select * from workout_events
    where workout_action = 'completed'

),

matched as (

    -- A completion belongs to the latest start of the same user and workout at or before it.
    select
        starts.message_id as start_message_id,
        completions.message_id as completion_message_id,
        completions.event_at as completed_at,
        completions.duration_minutes,
        completions.calories,
        row_number() over (
            partition by starts.message_id order by completions.event_at, completions.message_id
        ) as completion_rank
    from starts
    inner join completions
        on starts.user_id = completions.user_id
        and starts.workout_id = completions.workout_id
        and completions.event_at >= starts.event_at
        and (starts.next_start_at is null or completions.event_at < starts.next_start_at)

),

attempts as (

    select
        starts.message_id as workout_attempt_id,
        starts.user_id,
        starts.workout_id,
        starts.program_id,
        starts.platform,
        starts.event_at as started_at,
        matched.completed_at,
        matched.duration_minutes,
        matched.calories
    from starts
    left join matched
        on starts.message_id = matched.start_message_id
        and matched.completion_rank = 1

),

orphan_completions as (

    -- Completions whose start was never received (lost or quarantined): kept, with no start time.
    select
        completions.message_id as workout_attempt_id,
        completions.user_id,
        completions.workout_id,
        completions.program_id,
        completions.platform,
        cast(null as timestamptz) as started_at,
        completions.event_at as completed_at,
        completions.duration_minutes,
        completions.calories
    from completions
    where completions.message_id not in (
        select completion_message_id from matched where completion_rank = 1
    )

),

unioned as (

    select * from attempts
    union all
    select * from orphan_completions

),

final as (

    select
        unioned.workout_attempt_id,
        unioned.user_id,
        unioned.workout_id,
        unioned.program_id,
        programs.trainer_id,
        programs.program_category,
        unioned.platform,
        unioned.started_at,
        unioned.completed_at,
        unioned.completed_at is not null as is_completed,
        cast(timezone('UTC', coalesce(unioned.started_at, unioned.completed_at)) as date) as workout_date,
        unioned.duration_minutes,
        unioned.calories
    from unioned
    left join programs on unioned.program_id = programs.program_id

)

select * from final
