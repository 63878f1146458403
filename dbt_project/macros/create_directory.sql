{% macro create_directory(path) -%}
  {#- DuckDB has no mkdir and its COPY does not create a file's parent directory. An empty
      partitioned COPY creates the target directory (one level: the parent must exist) and writes
      no file; OVERWRITE_OR_IGNORE makes it a no-op when the directory is already there. -#}
  {%- if execute -%}
    copy (select 1 as _partition, 1 as _value where false)
    to '{{ path | replace("'", "''") }}'
    (format parquet, partition_by (_partition), overwrite_or_ignore true)
  {%- else -%}
    select 1
  {%- endif -%}
{%- endmacro %}
