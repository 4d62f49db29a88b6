with

source as (

    select * from {{ source('erp', 'products') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number
    select
        cast(product_id as varchar) as product_id,
        name as product_name,
        category,
        list_price,
        unit_cost,
        _business_date as snapshot_date,
        _loaded_at as loaded_at
    from source

)

select * from renamed
