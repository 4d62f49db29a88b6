{#- The as-of date of a build and the first as-of date whose history it (re)computes.
    The pipeline passes both as environment variables rather than --vars: a change of
    vars forces dbt to re-parse the whole project, a change of env var does not. A bare
    `dbt build` uses the day it runs. -#}
{#- A var of the same name wins over the env var: dbt unit tests set their dates with
    `overrides: vars:` (the pipeline never passes these vars). -#}
{#- The env vars are read only when SQL is compiled (`execute`), never while dbt parses:
    dbt re-parses every file that read an env var whose value changed, which a new as-of
    date always is (15 files, 2 s of a daily run). Parsing sees 1970-01-01, and the
    branches chosen by date (build_days) have the same refs either way. -#}
{% macro as_of_value() -%}
    {%- if not execute %}{{ return(var("as_of_date", "1970-01-01")) }}{% endif %}
    {{ return(var("as_of_date", env_var("TIERING_AS_OF_DATE", run_started_at.strftime("%Y-%m-%d")))) }}
{%- endmacro %}

{% macro history_start_value() -%}
    {%- if not execute %}{{ return(var("history_start_date", as_of_value())) }}{% endif %}
    {{ return(var("history_start_date", env_var("TIERING_HISTORY_START_DATE", as_of_value()))) }}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_value() }}' as date)
{%- endmacro %}

{% macro history_start_date() -%}
    cast('{{ history_start_value() }}' as date)
{%- endmacro %}

{#- Days from history_start_date to as_of_date, both included: how many as-of dates a
    build can compute, known when the SQL is compiled. -#}
{% macro build_days() -%}
    {%- set parse = modules.datetime.datetime.strptime -%}
    {{ return((parse(as_of_value(), "%Y-%m-%d") - parse(history_start_value(), "%Y-%m-%d")).days + 1) }}
{%- endmacro %}

{#- Up to this many days a build reads trailing windows by joining each as-of row to its
    activity (cost: as-of dates x activity days); beyond, by window functions over the
    whole timeline (cost: the timeline). A daily run takes the first way. -#}
{% macro few_as_of_dates() -%}
    {{ return(7) }}
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

{#- First day any as-of date of the build looks at: activity before it is never read. -#}
{% macro lookback_start_date() -%}
    {{ add_days(history_start_date(), 1 - lookback_days()) }}
{%- endmacro %}

{#- The incremental day layers (int_sales_lines_priced, int_customer_days_aggregated) hold
    every business day loaded, whatever the as-of date (models reading them filter on it,
    so they stay a function of the raw tables alone). A build recomputes the days from
    history_start_date on, whole:
    every raw partition loaded since the last publish is at or after it (the pipeline's
    plan starts history at the earliest unpublished day), and deleting those days first
    means a corrected day that lost rows, or became empty, loses them here too. The delete
    is a pre-hook, inside the model's transaction with the insert. A full build (first
    build, or --full-refresh, which the pipeline passes when the rules or the project
    changed since these layers were built) computes every day. -#}
{#- `lookback_days`: also the days that many before history_start_date, which the
    recomputed days read (a filter on the bare column, so DuckDB skips the row groups of
    earlier days instead of scanning every stored day). -#}
{% macro is_recomputed_day(date_column, lookback_days=0) -%}
    {%- set first_day = add_days(history_start_date(), -lookback_days) if lookback_days else history_start_date() %}
    {%- if is_incremental() %}{{ date_column }} >= {{ first_day }}{% else %}true{% endif %}
{%- endmacro %}

{% macro delete_recomputed_days(date_column) -%}
    {%- if is_incremental() %}delete from {{ this }} where {{ date_column }} >= {{ history_start_date() }}{% endif %}
{%- endmacro %}
