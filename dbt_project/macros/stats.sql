{#- numerator / denominator as a double; null when the denominator is zero or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as {{ type_double() }}) / nullif(cast({{ denominator }} as {{ type_double() }}), 0)
{%- endmacro %}

{#- Growth of `current` over `previous`: (current - previous) / |previous|; null when
    previous is zero. -#}
{% macro growth_rate(current, previous) -%}
    {{ safe_divide('(' ~ current ~ ') - (' ~ previous ~ ')', 'abs(' ~ previous ~ ')') }}
{%- endmacro %}
