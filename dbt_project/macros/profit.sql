{#- The cost-to-serve kinds of the input contract (customer_tiering.contract.COST_KINDS);
    each becomes a `<kind>_cost` column. -#}
{% macro cost_kinds() -%}
    {{ return(["rebate", "freight", "promotion", "channel_fee", "samples", "service"]) }}
{%- endmacro %}
