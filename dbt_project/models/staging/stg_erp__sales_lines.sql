with

source as (

    select * from {{ source('erp', 'sales_lines') }}

),

renamed as (

    select
        line_id,
        order_id,
        order_date,
        customer_id,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        net_amount,
        cost_amount,
        quantity < 0 as is_return,
        _loaded_at as loaded_at
    from source

)

select * from renamed
