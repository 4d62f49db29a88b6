{#- The column that measures contribution, chosen by var('tier_basis'). -#}
{% macro tier_bases() -%}
    {{ return(["revenue", "gross_profit", "customer_profit"]) }}
{%- endmacro %}

{% macro tier_basis_column() -%}
    {%- set bases = tier_bases() -%}
    {%- set basis = var("tier_basis") -%}
    {%- if basis not in bases -%}
        {{ exceptions.raise_compiler_error("var tier_basis must be one of " ~ bases | join(", ") ~ ", not " ~ basis) }}
    {%- endif -%}
    {{ basis }}
{%- endmacro %}

{% macro abc_cut_method() -%}
    {%- set methods = ["cumulative_share", "customer_count"] -%}
    {%- set method = var("abc_cut_method") -%}
    {%- if method not in methods -%}
        {{ exceptions.raise_compiler_error("var abc_cut_method must be one of " ~ methods | join(", ") ~ ", not " ~ method) }}
    {%- endif -%}
    {{ return(method) }}
{%- endmacro %}
