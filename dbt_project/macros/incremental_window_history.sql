{#-
  Companions of event_date_window (incremental_window.sql) for daily-incremental models whose day
  depends on earlier days: they read `days_back` more days of input than the window they rebuild,
  then keep only the window's rows with event_date_window(<own date column>, this_column=...).
  Same vars and same window as event_date_window; on a full refresh both are `true`.
-#}

{% macro event_date_window_is_active() -%}
  {{ return(partition_window_bound('min_date') is not none or is_incremental()) }}
{%- endmacro %}

{% macro event_date_window_with_history(column='event_date', this_column='event_date', days_back=1) -%}
  {%- if partition_window_bound('min_date') is not none -%}
    ({{ column }} >= {{ event_date_window_start(this_column) }} - interval {{ days_back }} day
     and {{ column }} <= cast('{{ partition_window_bound("max_date") or partition_window_bound("min_date") }}' as date))
  {%- elif is_incremental() -%}
    ({{ column }} >= {{ event_date_window_start(this_column) }} - interval {{ days_back }} day)
  {%- else -%}
    true
  {%- endif -%}
{%- endmacro %}
