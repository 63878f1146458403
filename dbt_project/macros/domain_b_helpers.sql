{#-
  Helpers of the revenue, marketplace, AI, experiment and system models (staging stg_subscription_events
  ... stg_api_requests, their intermediates and marts). Event lists that define revenue stay in
  event_catalog.sql; these lists only say which events a domain's staging model types.
-#}

{% macro subscription_state_events() -%}
  {#- Events that move a subscription between states (revenue events + cancellation + dunning). -#}
  {{ return(subscription_revenue_events() + ['Subscription Cancelled', 'Payment Failed']) }}
{%- endmacro %}

{% macro marketplace_funnel_events() -%}
  {{ return(['Program Viewed'] + program_purchase_events() + refund_events() + ['Trainer Followed']) }}
{%- endmacro %}

{% macro recommendation_lifecycle_events() -%}
  {{ return([
      'Recommendation Shown',
      'Recommendation Accepted',
      'Recommendation Rejected',
      'Recommendation Modified',
      'Recommendation Rated',
  ]) }}
{%- endmacro %}

{% macro conversion_events() -%}
  {#- A paid conversion: the experiment metric `converted_within_14d` (lake.simulator ground truth). -#}
  {{ return(program_purchase_events() + ['Subscription Started']) }}
{%- endmacro %}

{% macro billing_period_of(billing_period, plan_id) -%}
  {#- The billing period sent with the event, else the one implied by the plan id. -#}
  coalesce(
      lower({{ billing_period }}),
      case
          when {{ plan_id }} ilike '%annual%' or {{ plan_id }} ilike '%yearly%' then 'annual'
          when {{ plan_id }} ilike '%monthly%' then 'monthly'
      end
  )
{%- endmacro %}

{% macro monthly_recurring_amount(amount, billing_period) -%}
  {#- A billing amount normalized to one month: monthly as is, annual / 12. -#}
  case lower({{ billing_period }})
      when 'annual' then {{ amount }} / 12.0
      when 'monthly' then {{ amount }}
  end
{%- endmacro %}

{% macro billing_period_interval(billing_period) -%}
  case lower({{ billing_period }}) when 'annual' then interval 12 month else interval 1 month end
{%- endmacro %}

{% macro bronze_table_exists(name) -%}
  {#- True when the local bronze Delta table `name` has a transaction log (checked at run time with
      DuckDB's glob; at parse time it answers true so the source is in the lineage). Lets a model
      read a table that a fresh lake may not have yet (bronze/quarantine is created on the first
      rejected message). Object-store lakes: the table is assumed to exist. -#}
  {%- if not execute -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set lake_dir = env_var('PULSE_LAKE_DIR', 'data/lake') -%}
  {%- if '://' in lake_dir -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set pattern = lake_dir ~ '/bronze/' ~ name ~ '/_delta_log/*.json' -%}
  {%- set result = run_query("select count(*) from glob('" ~ (pattern | replace("'", "''")) ~ "')") -%}
  {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% test unique_combination(model, columns) %}
  {#- The combination of `columns` identifies a row (the grain of a mart). -#}
  select {{ columns | join(', ') }}, count(*) as rows_with_this_key
  from {{ model }}
  group by {{ columns | join(', ') }}
  having count(*) > 1
{% endtest %}

{% macro exact_sum(expression, scale=4) -%}
  {#- Sum of a double (money, milliseconds) that does not depend on the order of the rows: summed as a
      decimal, returned as a double. A daily-incremental rebuild of a day then gives the very same
      bits as a full refresh (a double sum can differ in the last digit). -#}
  cast(sum(cast({{ expression }} as decimal(38, {{ scale }}))) as double)
{%- endmacro %}
