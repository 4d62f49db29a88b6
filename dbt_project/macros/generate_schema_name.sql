{#- Use the configured schema name as is (staging, intermediate, marts), so BI tools
    read `marts.customer_tiers` on every target rather than `main_marts`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
