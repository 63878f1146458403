{#-
  Sessionization shared by int_sessions (per user) and int_sessions_by_platform (per user and
  platform). `activity` is a CTE name with columns user_key, user_id, event_at, message_id, platform.
  A session is a run of a partition's activity events with no gap longer than
  var('session_inactivity_gap_minutes', 30) minutes. Returns rows: user_key, user_id, platform,
  session_id, session_start, session_end, duration_seconds, event_count, session_date.
-#}
{% macro sessionize(activity, by_platform=false) -%}
{%- set gap = var('session_inactivity_gap_minutes', 30) -%}
{%- set partition = 'user_key, platform' if by_platform else 'user_key' -%}
(
    with

    gaps as (

        select
            *,
            -- No tie-breaker on message_id (a string sort key made both windows ~20 % slower):
            -- of events at the same instant only the first can start a session (the others are
            -- 0 s after it), and the `range` frame below counts all of them together.
            lag(event_at) over (
                partition by {{ partition }} order by event_at
            ) as previous_event_at
        from {{ activity }}

    ),

    numbered as (

        -- A new session starts at a partition's first event and after more than the gap.
        select
            *,
            sum(
                case
                    when previous_event_at is null
                        or event_at - previous_event_at > interval '{{ gap }} minutes'
                    then 1
                    else 0
                end
            ) over (
                partition by {{ partition }} order by event_at
                range between unbounded preceding and current row
            ) as session_number
        from gaps

    ),

    sessions as (

        select
            user_key,
            {% if by_platform %}platform,{% endif %}
            session_number,
            max(user_id) as user_id,
            min(event_at) as session_start,
            max(event_at) as session_end,
            count(*) as event_count
            {% if not by_platform %},
            arg_min(platform, event_at) filter (where platform is not null) as platform
            {% endif %}
        from numbered
        group by all

    )

    select
        md5(
            user_key
            {% if by_platform %}|| '|' || coalesce(platform, '(none)'){% endif %}
            || '|' || cast(epoch_us(session_start) as varchar)
        ) as session_id,
        user_key,
        user_id,
        session_start,
        session_end,
        cast(date_diff('second', session_start, session_end) as bigint) as duration_seconds,
        event_count,
        cast(timezone('UTC', session_start) as date) as session_date,
        platform
    from sessions
)
{%- endmacro %}
