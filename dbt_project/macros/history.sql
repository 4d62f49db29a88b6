{#- pre_hook of every history-like mart (incremental, one partition per as_of_date):
    remove the whole as-of range being rebuilt first, so a date that now yields no rows
    (no alerts, no price exceptions that day) does not keep stale ones. delete+insert on
    as_of_date alone only replaces the dates present in the new rows. -#}
{% macro delete_as_of_range() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where as_of_date between {{ history_start_date() }} and {{ as_of_date() }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
