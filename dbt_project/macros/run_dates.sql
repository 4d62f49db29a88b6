{#- The as-of date of a build and the first as-of date whose history it (re)computes.
    The pipeline passes both as environment variables rather than --vars: a change of
    vars forces dbt to re-parse the whole project, a change of env var does not. A bare
    `dbt build` uses the day it runs. -#}
{#- A var of the same name wins over the env var: dbt unit tests set their dates with
    `overrides: vars:` (the pipeline never passes these vars). -#}
{% macro as_of_date() -%}
    cast('{{ var("as_of_date", env_var("TIERING_AS_OF_DATE", run_started_at.strftime("%Y-%m-%d"))) }}' as date)
{%- endmacro %}

{% macro history_start_date() -%}
    cast('{{ var("history_start_date", env_var("TIERING_HISTORY_START_DATE", var("as_of_date", env_var("TIERING_AS_OF_DATE", run_started_at.strftime("%Y-%m-%d"))))) }}' as date)
{%- endmacro %}

{#- How many days before an as-of date its figures reach back: the trailing window, the
    year-over-year comparison period a year earlier, the two month-over-month periods, or
    the outlook's run-rate period. -#}
{% macro lookback_days() -%}
    {{ return([
        var("window_days") | int,
        var("outlook_run_rate_days") | int,
        (var("growth_year_lag_days") | int) + (var("growth_yoy_days") | int),
        2 * (var("growth_mom_days") | int),
    ] | max) }}
{%- endmacro %}

{#- First day any as-of date of the build looks at: the dense customer x day grids start here. -#}
{% macro grid_start_date() -%}
    {{ add_days(history_start_date(), 1 - lookback_days()) }}
{%- endmacro %}
