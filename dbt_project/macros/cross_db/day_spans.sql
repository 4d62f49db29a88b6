{#- In a select list: one row for each day from `first_date` to `last_date` (inclusive),
    the row's other columns repeated, the day itself as this expression's value. Expanding
    a span into its days lets a later join match days by equality, where a join on
    `first <= day and day <= last` sorts both sides (DuckDB's piecewise merge join). -#}
{% macro span_days(first_date, last_date) -%}
    {{ return(adapter.dispatch('span_days', 'customer_tiering')(first_date, last_date)) }}
{%- endmacro %}

{% macro default__span_days(first_date, last_date) -%}
    cast(generate_series({{ first_date }}, {{ last_date }}, interval '1 day') as date)
{%- endmacro %}

{% macro duckdb__span_days(first_date, last_date) -%}
    cast(unnest(generate_series({{ first_date }}, {{ last_date }}, interval 1 day)) as date)
{%- endmacro %}

{% macro spark__span_days(first_date, last_date) -%}
    explode(sequence({{ first_date }}, {{ last_date }}))
{%- endmacro %}
