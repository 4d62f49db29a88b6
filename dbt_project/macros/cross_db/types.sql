{#- Column types whose names differ between the adapters the project runs on. Types
    spelled the same everywhere (date, integer, bigint, boolean) are written plainly;
    text is dbt.type_string(). -#}

{#- Binary floating point, 8 bytes: DuckDB's and Spark's `float` is 4 bytes, so
    dbt.type_float() would lose precision there. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'customer_tiering')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    {{ return('double precision') }}
{%- endmacro %}

{% macro duckdb__type_double() -%}
    {{ return('double') }}
{%- endmacro %}

{#- Exact decimal of a fixed scale (money, quantities: never binary float, DESIGN.md). -#}
{% macro type_decimal(precision, scale) -%}
    {{ return(adapter.dispatch('type_decimal', 'customer_tiering')(precision, scale)) }}
{%- endmacro %}

{% macro default__type_decimal(precision, scale) -%}
    {{ return('decimal(' ~ precision ~ ', ' ~ scale ~ ')') }}
{%- endmacro %}

{#- Money in the distributor's currency, to the cent. -#}
{% macro type_money() -%}
    {{ return(type_decimal(18, 2)) }}
{%- endmacro %}

{#- An id of the input contract as text (a document number is no number), ordered and
    compared byte by byte on every adapter: ties in the rankings are broken by customer
    id, and Postgres would otherwise order text by the database's locale. -#}
{% macro cast_id(column) -%}
    {{ return(adapter.dispatch('cast_id', 'customer_tiering')(column)) }}
{%- endmacro %}

{% macro default__cast_id(column) -%}
    cast({{ column }} as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__cast_id(column) -%}
    cast({{ column }} as {{ dbt.type_string() }}) collate "C"
{%- endmacro %}

{#- A double as money the way DuckDB casts it: x * 100 rounded half away from zero.
    Postgres would round its 15-digit decimal form instead (3424.0649999999996 -> 3424.07,
    DuckDB 3424.06). -#}
{% macro double_to_money(expression) -%}
    {{ return(adapter.dispatch('double_to_money', 'customer_tiering')(expression)) }}
{%- endmacro %}

{% macro default__double_to_money(expression) -%}
    cast({{ expression }} as {{ type_money() }})
{%- endmacro %}

{% macro postgres__double_to_money(expression) -%}
    {%- set cents = '(' ~ expression ~ ') * 100' -%}
    cast(
        cast(
            trunc({{ cents }}) + case when abs({{ cents }} - trunc({{ cents }})) >= 0.5 then sign({{ cents }}) else 0 end
            as numeric
        ) / 100 as {{ type_money() }}
    )
{%- endmacro %}

{% macro spark__type_double() -%}
    {{ return('double') }}
{%- endmacro %}
