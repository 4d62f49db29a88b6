{#- A number rounded to `digits` decimals, as text for people (alert details), written
    the same on every adapter: DuckDB's `cast(round(x, digits) as varchar)`, which rounds
    the double's exact value (ties away from zero) and writes the result's shortest form
    with at least one decimal ("0.1", "2.0", "-0.0"). -#}
{% macro rounded_text(expression, digits) -%}
    {{ return(adapter.dispatch('rounded_text', 'customer_tiering')(expression, digits)) }}
{%- endmacro %}

{% macro default__rounded_text(expression, digits) -%}
    cast(round({{ expression }}, {{ digits }}) as {{ dbt.type_string() }})
{%- endmacro %}

{#- Postgres rounds a double to an integer only, and turns it into numeric with 15
    digits, not its exact value (1.9355 is stored as 1.93549999...: 1.935, not 1.936). So
    x is taken as the exact fraction n / 2^k (n a bigint: k puts x near 2^60, where every
    double is an integer), rounded in numeric, and written as a double again. -#}
{% macro postgres__rounded_text(expression, digits) -%}
    {%- set x = 'cast(' ~ expression ~ ' as double precision)' -%}
    {%- set k = 'cast(60 - floor(ln(abs(' ~ x ~ ')) / ln(2)) as integer)' -%}
    {%- set n = 'cast(' ~ x ~ ' * power(cast(2 as double precision), ' ~ k ~ ') as bigint)' -%}
    {%- set unit = 'power(cast(2 as numeric), ' ~ k ~ ')' -%}
    {%- set scaled = 'div(abs(cast(' ~ n ~ ' as numeric)) * ' ~ 10 ** digits ~ ' + ' ~ unit ~ ' / 2, ' ~ unit ~ ')' -%}
    regexp_replace(
        cast(
            case
                when {{ x }} = 0 then {{ x }}
                when {{ scaled }} = 0 then sign({{ x }}) * cast(0 as double precision)
                else cast(sign({{ x }}) * {{ scaled }} / {{ 10 ** digits }} as double precision)
            end as text
        ),
        '^(-?[0-9]+)$',
        '\1.0'
    )
{%- endmacro %}
