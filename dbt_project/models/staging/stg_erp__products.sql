with

source as (

    select * from {{ source('erp', 'products') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number;
    -- names typed here, so the marts' text columns have one type on every adapter
    select
        {{ cast_id('product_id') }} as product_id,
        cast(name as {{ dbt.type_string() }}) as product_name,
        cast(category as {{ dbt.type_string() }}) as category,
        list_price,
        unit_cost,
        _business_date as snapshot_date,
        _loaded_at as loaded_at
    from source

)

select * from renamed
