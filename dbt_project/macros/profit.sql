{#- The cost-to-serve kinds of the input contract (customer_tiering.contract.COST_KINDS);
    each becomes a `<kind>_cost` column. -#}
{% macro cost_kinds() -%}
    {{ return(["rebate", "freight", "promotion", "channel_fee", "samples", "service"]) }}
{%- endmacro %}

{#- A customer's profit columns, in the order the models carry and publish them: revenue,
    cogs, gross_profit, one `<kind>_cost` per cost kind, cost_to_serve, customer_profit.
    The models that sum or pass them through take the list from here. -#}
{% macro profit_columns() -%}
    {%- set columns = ['revenue', 'cogs', 'gross_profit'] -%}
    {%- for kind in cost_kinds() %}{% do columns.append(kind ~ '_cost') %}{% endfor -%}
    {%- do columns.extend(['cost_to_serve', 'customer_profit']) -%}
    {{ return(columns) }}
{%- endmacro %}
