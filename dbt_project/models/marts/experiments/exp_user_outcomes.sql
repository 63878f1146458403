{%- set window_days = var('experiment_window_days', 14) %}

with

exposures as (

    select * from {{ ref('stg_experiment_exposures') }}
    where user_id is not null

),

events as (

    select * from {{ ref('stg_events') }}

),

data_range as (

    select max(event_date) as last_date from events

),

first_exposures as (

    -- A user's first exposure to an experiment fixes the variant and the start of the window.
    select
        experiment,
        user_id,
        min(event_at) as exposed_at,
        arg_min(variant, event_at) as variant,
        count(distinct variant) as variants_seen,
        count(*) as exposures
    from exposures
    group by experiment, user_id

),

user_events as (

    select
        user_id,
        event_at,
        event_name,
        {{ signed_revenue() }} as net_revenue
    from events
    where user_id is not null
        and (
            event_name in {{ sql_string_list(conversion_events() + gross_revenue_events() + refund_events()) }}
            or event_name = 'Workout Completed'
        )

),

windowed as (

    select
        first_exposures.experiment,
        first_exposures.user_id,
        min(user_events.event_at) filter (
            where user_events.event_name in {{ sql_string_list(conversion_events()) }}
        ) as first_conversion_at,
        coalesce(sum(user_events.net_revenue), 0) as revenue_14d,
        count(*) filter (where user_events.event_name = 'Workout Completed') as workouts_14d
    from first_exposures
    inner join user_events
        on user_events.user_id = first_exposures.user_id
        and user_events.event_at >= first_exposures.exposed_at
        and user_events.event_at <= first_exposures.exposed_at + interval {{ window_days * 24 }} hour
    group by first_exposures.experiment, first_exposures.user_id

),

converted_before as (

    select distinct
        first_exposures.experiment,
        first_exposures.user_id
    from first_exposures
    inner join user_events
        on user_events.user_id = first_exposures.user_id
        and user_events.event_at < first_exposures.exposed_at
        and user_events.event_name in {{ sql_string_list(conversion_events()) }}

),

final as (

    select
        first_exposures.experiment,
        first_exposures.variant,
        first_exposures.user_id,
        first_exposures.exposed_at,
        cast(first_exposures.exposed_at as date) as exposure_date,
        first_exposures.exposed_at + interval {{ window_days * 24 }} hour as window_end_at,
        cast(first_exposures.exposed_at + interval {{ window_days * 24 }} hour as date)
            <= data_range.last_date as is_window_complete,
        windowed.first_conversion_at,
        windowed.first_conversion_at is not null as converted_within_14d,
        date_diff('second', first_exposures.exposed_at, windowed.first_conversion_at) / 3600.0
            as hours_to_conversion,
        coalesce(windowed.revenue_14d, 0) as revenue_14d,
        coalesce(windowed.workouts_14d, 0) as workouts_14d,
        converted_before.user_id is not null as converted_before_exposure,
        first_exposures.variants_seen > 1 as saw_multiple_variants,
        first_exposures.exposures
    from first_exposures
    cross join data_range
    left join windowed
        on windowed.experiment = first_exposures.experiment
        and windowed.user_id = first_exposures.user_id
    left join converted_before
        on converted_before.experiment = first_exposures.experiment
        and converted_before.user_id = first_exposures.user_id

)

select * from final
