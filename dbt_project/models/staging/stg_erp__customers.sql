with

source as (

    select * from {{ source('erp', 'customers') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number;
    -- names typed here, so the marts' text columns have one type on every adapter
    select
        {{ cast_id('customer_id') }} as customer_id,
        cast(name as {{ dbt.type_string() }}) as customer_name,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(channel as {{ dbt.type_string() }}) as channel,
        created_date,
        credit_limit,
        blocked as is_blocked,
        _business_date as snapshot_date,
        _loaded_at as loaded_at
    from source

)

select * from renamed
