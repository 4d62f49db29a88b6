with

source as (

    select * from {{ source('erp', 'products') }}

),

renamed as (

    select
        product_id,
        name as product_name,
        category,
        list_price,
        unit_cost,
        _business_date as snapshot_date,
        _loaded_at as loaded_at
    from source

)

select * from renamed
