with

deployments as (

    select * from {{ ref('stg_model_deployments') }}

),

outcomes as (

    select * from {{ ref('int_recommendation_outcomes') }} as recommendation_outcomes
    -- only members who had personalization consent when the recommendation was shown
    where {{ had_consent('recommendation_outcomes.user_id', 'recommendation_outcomes.shown_at',
                         'personalization') }}

),

events as (

    select * from {{ ref('stg_events') }}

),

data_range as (

    select max(event_at) as last_event_at from events

),

timeline as (

    select
        message_id as deployment_id,
        deployment_type,
        model_version,
        previous_version,
        reason,
        event_at as live_from,
        lead(event_at) over (order by event_at, message_id) as live_until
    from deployments

),

served as (

    -- What the version served while it was live after this event.
    select
        timeline.deployment_id,
        count(outcomes.recommendation_id) as recommendations_shown,
        count(outcomes.recommendation_id) filter (where outcomes.outcome = 'accepted') as accepted,
        avg(outcomes.rating) as avg_rating,
        sum(outcomes.safety_flags) as safety_flags
    from timeline
    cross join data_range
    left join outcomes
        on outcomes.model_version = timeline.model_version
        and outcomes.shown_at >= timeline.live_from
        and outcomes.shown_at < coalesce(timeline.live_until, data_range.last_event_at + interval 1 second)
    group by timeline.deployment_id

),

final as (

    select
        timeline.deployment_id,
        timeline.deployment_type,
        timeline.model_version,
        timeline.previous_version,
        timeline.reason,
        timeline.live_from,
        timeline.live_until,
        timeline.live_until is null as is_current,
        date_diff(
            'second', timeline.live_from, coalesce(timeline.live_until, data_range.last_event_at)
        ) / 3600.0 as hours_live,
        served.recommendations_shown,
        served.accepted,
        served.accepted / nullif(served.recommendations_shown, 0) as acceptance_rate,
        served.avg_rating,
        coalesce(served.safety_flags, 0) as safety_flags
    from timeline
    cross join data_range
    left join served on served.deployment_id = timeline.deployment_id

)

select * from final
