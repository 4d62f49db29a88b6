{#- Use the configured schema name as is (staging, intermediate, marts), so BI tools
    read `marts.customer_tiers` on every target rather than `main_marts`. -#}
{#- TIERING_SCHEMA_PREFIX (empty unless set) goes before every schema dbt builds into:
    `tiering whatif` on Postgres builds in `tiering_whatif_staging` ... `_marts_build` of
    the warehouse database itself, beside the real build's schemas, which it must not
    touch (customer_tiering/whatif.py). Sources (raw, marts) are never prefixed: the
    scratch build reads the real inputs and the published history. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set prefix = env_var('TIERING_SCHEMA_PREFIX', '') -%}
    {%- if custom_schema_name is none -%}
        {{ prefix }}{{ target.schema }}
    {%- else -%}
        {{ prefix }}{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
