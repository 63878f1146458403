{#-
  MetricFlow's calendar (dbt time spine): one row per UTC day. dbt builds it as a view (a time spine
  cannot be ephemeral: dbt needs its relation name). Readers never query the warehouse: the query
  layer (analytics/) serves this relation itself, clamped to the days of the gold publication, so
  cumulative metrics (DAU/WAU/MAU) never average over days the data does not cover.
-#}
{{ config(materialized='view', tags=['semantic']) }}

select cast(range as date) as date_day
from range(date '2000-01-01', date '2051-01-01', interval 1 day)
