{#-
  Which event dates a daily-incremental model (re)builds. Every model tagged `daily` filters its
  input with `where {{ event_date_window('event_date') }}` and is configured
  `materialized='incremental', incremental_strategy='delete+insert', unique_key=<its date column>`
  (or the date plus the grain's key), so a run replaces whole days and nothing else.

  - Dagster's daily partitions pass vars `min_date` / `max_date` (inclusive, 'YYYY-MM-DD'): the run
    rebuilds those days and the `lookback_days` before them (late events land on earlier days).
    The same window can come from the environment, PULSE_DBT_MIN_DATE / PULSE_DBT_MAX_DATE
    (`partition_window_bound`), which keeps dbt's partial parsing (a changed --vars re-parses all).
  - A plain `dbt build` on an existing table rebuilds from `lookback_days` before its newest day.
  - A full refresh (or the first build) rebuilds everything.
  `lookback_days` defaults to 3 (dbt var), the late-arrival window the collector promises.

  `column` is the input's date column; `this_column` the model's own date column (for the newest
  day already built), e.g. `event_date_window('event_date', this_column='activity_date')`.
  `event_date_window_start(this_column)` gives the first rebuilt day as a constant SQL date expression (for models
  that must read a little further back, e.g. sessions crossing midnight, then keep only rows
  from this day on).
-#}

{% macro partition_window_bound(name) -%}
  {#- `min_date` / `max_date` of the partition window: the dbt var if set, else the environment variable
      PULSE_DBT_MIN_DATE / PULSE_DBT_MAX_DATE, else none. The environment variable is read only
      at execution (`execute`), so dbt's partial parsing never records it: a new window does not
      re-parse the project, whereas any change of --vars does (~10 s here, ~45 s on a loaded
      machine, per invocation). -#}
  {#- A var that is set wins even when null: dbt unit tests set min_date/max_date to null so a
      window in the environment (a Dagster partition run) does not filter their fixtures. -#}
  {%- if var.has_var(name) -%}
    {{ return(var(name)) }}
  {%- elif execute and env_var('PULSE_DBT_' ~ name | upper, '') != '' -%}
    {{ return(env_var('PULSE_DBT_' ~ name | upper)) }}
  {%- endif -%}
  {{ return(none) }}
{%- endmacro %}

{% macro event_date_window_start(this_column='event_date') -%}
  {%- if partition_window_bound('min_date') is not none -%}
    (cast('{{ partition_window_bound("min_date") }}' as date) - interval {{ var('lookback_days', 3) }} day)
  {%- elif is_incremental() -%}
    {#- The newest built day is read at compile time and rendered as a constant (not a subquery):
        DuckDB pushes a constant filter into the bronze Arrow scan and prunes partitions. An empty
        table gives null, i.e. an empty window, as the subquery did. -#}
    {%- set newest = none -%}
    {%- if execute -%}
      {%- set newest = run_query('select max(' ~ this_column ~ ') from ' ~ this).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if newest is none -%}
    cast(null as date)
    {%- else -%}
    (cast('{{ newest }}' as date) - interval {{ var('lookback_days', 3) }} day)
    {%- endif -%}
  {%- else -%}
    null
  {%- endif -%}
{%- endmacro %}

{% macro event_date_window(column='event_date', this_column='event_date') -%}
  {%- if partition_window_bound('min_date') is not none -%}
    ({{ column }} >= {{ event_date_window_start(this_column) }}
     and {{ column }} <= cast('{{ partition_window_bound("max_date") or partition_window_bound("min_date") }}' as date))
  {%- elif is_incremental() -%}
    ({{ column }} >= {{ event_date_window_start(this_column) }})
  {%- else -%}
    true
  {%- endif -%}
{%- endmacro %}
