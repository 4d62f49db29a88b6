{#- A master table's stored snapshots as validity intervals, one row per version: a
    snapshot's row holds from its date until the day before the next stored snapshot, and
    consecutive snapshots in which a key's attributes are unchanged are one version. So
    "attribute as of D" is a range filter matching one row, and a join to every as-of
    date costs as many versions as there were changes, not as many snapshots. A key
    missing from a snapshot ends its version; it starts a new one if it comes back. -#}
{% macro versioned_snapshots(snapshots, key, attributes) -%}

snapshot_dates as (

    select
        snapshot_date,
        row_number() over (order by snapshot_date) as snapshot_number,
        lead(snapshot_date) over (order by snapshot_date) as next_snapshot_date
    from (select distinct snapshot_date from {{ snapshots }}) as stored

),

snapshot_rows as (

    select
        {{ snapshots }}.{{ key }},
        {%- for attribute in attributes %}
        {{ snapshots }}.{{ attribute }},
        {%- endfor %}
        {{ snapshots }}.snapshot_date,
        snapshot_dates.snapshot_number,
        coalesce(
            {{ add_days('snapshot_dates.next_snapshot_date', -1) }},
            cast('9999-12-31' as date)
        ) as valid_to_date
    from {{ snapshots }}
    inner join snapshot_dates on {{ snapshots }}.snapshot_date = snapshot_dates.snapshot_date

),

version_starts as (

    select
        *,
        case
            when
                lag(snapshot_number) over by_key = snapshot_number - 1
                {%- for attribute in attributes %}
                and (lag({{ attribute }}) over by_key is not distinct from {{ attribute }})
                {%- endfor %}
                then 0
            else 1
        end as is_version_start
    from snapshot_rows
    window by_key as (partition by {{ key }} order by snapshot_date)

),

numbered_versions as (

    select
        *,
        sum(is_version_start) over (
            partition by {{ key }} order by snapshot_date rows between unbounded preceding and current row
        ) as version_number
    from version_starts

),

-- A version's attributes are equal on all its rows: grouped by, not aggregated (Postgres
-- has no min() of a boolean).
final as (

    select
        {{ key }},
        {%- for attribute in attributes %}
        {{ attribute }},
        {%- endfor %}
        min(snapshot_date) as valid_from_date,
        max(valid_to_date) as valid_to_date
    from numbered_versions
    group by {{ key }}, version_number, {{ attributes | join(', ') }}

)

{%- endmacro %}
