{#- `with name as {{ inline_cte() }} (...)`: a CTE that several parts of one query read,
    computed again by each rather than held whole in memory. DuckDB and Postgres hold a
    CTE read more than once (DuckDB without spilling it), so a model whose big CTEs feed
    many branches of a union would need them all in memory at once; inlined, each branch
    streams from the tables. Spark inlines CTEs and has no such hint. -#}
{% macro inline_cte() -%}
    {{ return(adapter.dispatch('inline_cte', 'customer_tiering')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
    {{ return('not materialized') }}
{%- endmacro %}

{% macro spark__inline_cte() -%}
    {{ return('') }}
{%- endmacro %}
