{#-
  The event catalog as the marts use it: the ONE place that says which events are user activity and
  which events carry revenue. Change a list here and every model (sessions, DAU, user-daily, KPIs)
  follows. Columns referenced are those of stg_events.
-#}

{% macro non_activity_events() -%}
  {#- Events that are not something a member did in the app: system events of the AI recommender
      and server-side events emitted by the backend on the user's behalf. -#}
  {{ return([
      'Model Deployed',
      'Model Rolled Back',
      'API Request',
      'Subscription Renewed',
      'Payment Failed',
  ]) }}
{%- endmacro %}

{% macro non_activity_anonymous_ids() -%}
  {#- anonymousIds of system emitters (not people). -#}
  {{ return(['system:recommender']) }}
{%- endmacro %}

{% macro internal_anonymous_ids() -%}
  {#- anonymousIds of Pulse's own senders (lake/internal_source.py): the dashboards' usage events.
      stg_events leaves them out, so no member metric ever sees them; stg_dashboard_events reads
      them. -#}
  {{ return(['pulse:dashboards']) }}
{%- endmacro %}

{% macro activity_event_types() -%}
  {#- Segment call types that record an action; identify/group/alias only describe the user. -#}
  {{ return(['track', 'page', 'screen']) }}
{%- endmacro %}

{% macro gross_revenue_events() -%}
  {{ return(subscription_revenue_events() + program_purchase_events()) }}
{%- endmacro %}

{% macro subscription_revenue_events() -%}
  {{ return(['Subscription Started', 'Subscription Renewed']) }}
{%- endmacro %}

{% macro program_purchase_events() -%}
  {{ return(['Program Purchased']) }}
{%- endmacro %}

{% macro refund_events() -%}
  {{ return(['Program Refunded']) }}
{%- endmacro %}

{% macro sql_string_list(values) -%}
  ({%- for value in values -%}'{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%})
{%- endmacro %}

{% macro is_activity_event(relation_alias=none) -%}
  {%- set p = (relation_alias ~ '.') if relation_alias else '' -%}
  ({{ p }}event_type in {{ sql_string_list(activity_event_types()) }}
    and {{ p }}event_name not in {{ sql_string_list(non_activity_events()) }}
    and coalesce({{ p }}anonymous_id, '') not in {{ sql_string_list(non_activity_anonymous_ids()) }})
{%- endmacro %}

{% macro signed_revenue(relation_alias=none) -%}
  {#- Net revenue contribution of one event: + for purchases/subscriptions, - for refunds (refund
      amounts are taken as positive whatever sign the app sent), 0 otherwise. -#}
  {%- set p = (relation_alias ~ '.') if relation_alias else '' -%}
  case
    when {{ p }}event_name in {{ sql_string_list(gross_revenue_events()) }} then coalesce({{ p }}revenue, 0)
    when {{ p }}event_name in {{ sql_string_list(refund_events()) }} then -abs(coalesce({{ p }}revenue, 0))
    else 0
  end
{%- endmacro %}
