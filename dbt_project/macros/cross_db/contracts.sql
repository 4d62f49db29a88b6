{#- Model contracts (the marts' yml) name their column types in standard SQL: text and
    double precision, which DuckDB and Postgres take as written. Spark calls them string
    and double; dbt checks a contract by casting nulls to the contract's types
    (get_empty_schema_sql), so on Spark the names are translated first. -#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set spark_names = {'text': dbt.type_string(), 'double precision': type_double()} -%}
    {%- set spark_columns = {} -%}
    {%- for name, column in columns.items() -%}
        {%- set spark_column = column.copy() -%}
        {%- set data_type = column.get('data_type') -%}
        {%- if data_type is string -%}
            {%- do spark_column.update({'data_type': spark_names.get(data_type.lower(), data_type)}) -%}
        {%- endif -%}
        {%- do spark_columns.update({name: spark_column}) -%}
    {%- endfor -%}
    {{ return(dbt.default__get_empty_schema_sql(spark_columns)) }}
{%- endmacro %}
