{#- Median of a column, as an aggregate (or over a whole partition). percentile_cont is
    the standard form; DuckDB's median is the same figure. -#}
{% macro median(column) -%}
    {{ return(adapter.dispatch('median', 'customer_tiering')(column)) }}
{%- endmacro %}

{% macro default__median(column) -%}
    percentile_cont(0.5) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__median(column) -%}
    median({{ column }})
{%- endmacro %}

{#- Whether median() may take a window frame (`median(x) over (... range between ...)`).
    Postgres allows no ordered-set aggregate over a window; models then compute the
    median by a join instead. -#}
{% macro window_median_supported() -%}
    {{ return(adapter.dispatch('window_median_supported', 'customer_tiering')()) }}
{%- endmacro %}

{% macro default__window_median_supported() -%}
    {{ return(false) }}
{%- endmacro %}

{% macro duckdb__window_median_supported() -%}
    {{ return(true) }}
{%- endmacro %}

{#- Spark's median() takes no window frame; percentile(x, 0.5) is the same figure
    (interpolated like percentile_cont) and takes any. -#}
{% macro spark__median(column) -%}
    percentile({{ column }}, 0.5)
{%- endmacro %}

{% macro spark__window_median_supported() -%}
    {{ return(true) }}
{%- endmacro %}
