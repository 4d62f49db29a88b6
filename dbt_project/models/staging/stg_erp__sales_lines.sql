with

source as (

    select * from {{ source('erp', 'sales_lines') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number
    select
        {{ cast_id('line_id') }} as line_id,
        {{ cast_id('order_id') }} as order_id,
        order_date,
        {{ cast_id('customer_id') }} as customer_id,
        {{ cast_id('product_id') }} as product_id,
        quantity,
        unit_price,
        discount_amount,
        net_amount,
        cost_amount,
        _loaded_at as loaded_at,
        quantity < 0 as is_return
    from source

)

select * from renamed
