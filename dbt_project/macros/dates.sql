{#- Date arithmetic through dbt's cross-database macros, always returning a date. -#}
{% macro add_days(date_expr, days) -%}
    cast({{ dbt.dateadd('day', days, date_expr) }} as date)
{%- endmacro %}

{% macro days_between(start_date, end_date) -%}
    {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}

{#- Days since 1970-01-01: an integer to order by, so that window frames can be RANGE
    frames of N days on every adapter, and day differences are plain subtraction. -#}
{% macro day_number(date_expr) -%}
    {{ days_between("cast('1970-01-01' as date)", date_expr) }}
{%- endmacro %}
