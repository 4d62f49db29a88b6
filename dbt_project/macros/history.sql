{#- Write-audit-publish (README "Publishing"): every mart is built in the schema
    marts_build and tested there; the pipeline then makes the new tables the published
    ones (schema marts) in one transaction. A history mart (meta publish: as_of_partitions)
    holds only the as-of dates of its build, and the publish step replaces exactly those
    dates in the published table. Models that need earlier history (the day before the
    range for transitions, earlier evaluations for hysteresis) read it from the published
    table, through these macros. -#}

{#- True when the published copy of `name` exists (always true while dbt parses, so
    the source is part of the graph and unit tests can give it as an input). Unit tests
    override it. -#}
{% macro published_exists(name) -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(
        database=target.database, schema='marts', identifier=name
    ) -%}
    {{ return(relation is not none) }}
{%- endmacro %}
