with

source as (

    select * from {{ source('erp', 'sales_lines') }}

),

renamed as (

    -- ids are text (input contract): a document number is no number
    select
        cast(line_id as varchar) as line_id,
        cast(order_id as varchar) as order_id,
        order_date,
        cast(customer_id as varchar) as customer_id,
        cast(product_id as varchar) as product_id,
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
