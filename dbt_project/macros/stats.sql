{#- numerator / denominator as a double; null when the denominator is zero or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0)
{%- endmacro %}

{#- Growth of `current` over `previous`: (current - previous) / |previous|; null when
    previous is zero. -#}
{% macro growth_rate(current, previous) -%}
    {{ safe_divide('(' ~ current ~ ') - (' ~ previous ~ ')', 'abs(' ~ previous ~ ')') }}
{%- endmacro %}

{#- Median of a column over a window frame. DuckDB (and Spark, Snowflake) have a windowed
    `median`; an adapter without one overrides `<adapter>__median`. -#}
{% macro median(column) -%}
    {{ return(adapter.dispatch('median', 'customer_tiering')(column)) }}
{%- endmacro %}

{% macro default__median(column) -%}
    median({{ column }})
{%- endmacro %}
