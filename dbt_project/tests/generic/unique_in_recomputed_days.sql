{#- `unique` for the tables that grow by business day, at the cost of the days a build
    recomputes (history_start_date on) rather than of all history: a key may not repeat
    among those days' rows, nor appear again on an earlier day. The earlier days were
    checked by the build that wrote them (the pipeline starts a build's history at the
    earliest day not yet published). With `is_dated_key`, the key holds date_column
    itself, so only the recomputed days can repeat it. Earlier rows are read only inside
    the recomputed keys' min..max: the same answer, and where keys grow with time (ERP
    document numbers) the storage's min/max statistics skip almost all of history, so a
    daily build's check does not grow with it. -#}
{% test unique_in_recomputed_days(model, column_name, date_column, is_dated_key=false) %}

with

recomputed as (

    select {{ column_name }} as key_value
    from {{ model }}
    where {{ date_column }} >= {{ history_start_date() }}

),

key_range as (

    select
        min(key_value) as min_key_value,
        max(key_value) as max_key_value
    from recomputed

),

earlier as (

    select {{ column_name }} as key_value
    from {{ model }}
    where
        {{ date_column }} < {{ history_start_date() }}
        and {{ column_name }} between (select min_key_value from key_range) and (select max_key_value from key_range)

),

repeated as (

    select key_value
    from recomputed
    where key_value is not null
    group by key_value
    having count(*) > 1

),

{%- if not is_dated_key %}

seen_before as (

    select recomputed.key_value
    from recomputed
    where exists (select 1 from earlier where earlier.key_value = recomputed.key_value)

),

{%- endif %}

final as (

    select key_value from repeated
    {%- if not is_dated_key %}
    union all
    select key_value from seen_before
    {%- endif %}

)

select * from final

{% endtest %}
