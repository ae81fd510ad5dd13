{#
  A timestamp column as a UTC instant (TIMESTAMPTZ).
  Spark writes TIMESTAMP_MICROS adjusted to UTC, which DuckDB reads as TIMESTAMPTZ; other writers
  may leave timestamps without a zone, which the contract says are UTC. The cast reads those in
  the session zone, which profiles.yml pins to UTC, so both kinds end up the same instant.
#}
{% macro as_utc(column) -%}
    cast({{ column }} as timestamptz)
{%- endmacro %}
