{#- Tables a build reads that no model makes (the raw inputs, the published history),
    given to Spark as Parquet folders: TIERING_SPARK_PARQUET maps "schema.table" to a
    folder, and each becomes an external table of the session's catalog before the build
    (on-run-start). Other adapters read their own tables: nothing to do. -#}
{% macro register_parquet_tables() -%}
    {{ return(adapter.dispatch('register_parquet_tables', 'customer_tiering')()) }}
{%- endmacro %}

{% macro default__register_parquet_tables() -%}
    {{ return('') }}
{%- endmacro %}

{% macro spark__register_parquet_tables() -%}
    {%- if execute -%}
        {%- for relation, folder in fromjson(env_var('TIERING_SPARK_PARQUET', '{}')).items() -%}
            {%- do run_query('create schema if not exists ' ~ relation.split('.')[0]) -%}
            {#- An external table: dropping it leaves the folder; created again, it reads
                the folder's current files, also those in subfolders (the pipeline's raw
                partitions, `_business_date=<day>/`, whose files hold that column too:
                recursiveFileLookup turns partition inference off). -#}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {%- do run_query('create table ' ~ relation ~ " using parquet options (recursiveFileLookup 'true') location '" ~ folder ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
