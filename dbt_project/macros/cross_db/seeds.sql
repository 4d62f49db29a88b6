{#- A seed's text column, null where its CSV cell is empty, as DuckDB and Postgres load
    it. dbt-spark's session mode binds an empty cell (None) as the text 'None'
    (SessionConnectionWrapper._fix_binding quotes every value), so on Spark that text is
    read back as null. -#}
{% macro seed_text(column) -%}
    {{ return(adapter.dispatch('seed_text', 'customer_tiering')(column)) }}
{%- endmacro %}

{% macro default__seed_text(column) -%}
    {{ column }}
{%- endmacro %}

{% macro spark__seed_text(column) -%}
    nullif({{ column }}, 'None')
{%- endmacro %}
