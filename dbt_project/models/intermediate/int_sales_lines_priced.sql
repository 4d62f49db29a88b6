-- Each sales line with the prices it is judged against (DOMAIN.md sections 5 and 6):
-- the product's list price valid on the order date, and what all customers paid on
-- average for the product over the trailing price_chaser_peer_days days (quantity-
-- weighted, purchases only, the line's own day included). A purchase line is at deep
-- discount when its net unit price is far enough below both. Only the lines an as-of date
-- of the build looks at (grid_start_date..as_of_date) are priced.
{%- set peer_days = var('price_chaser_peer_days') | int %}

with

sales_lines as (

    select * from {{ ref('stg_erp__sales_lines') }}

),

products as (

    select * from {{ ref('int_products_versioned') }}

),

purchases as (

    select * from sales_lines
    where
        not is_return
        and quantity > 0
        and order_date between {{ add_days(grid_start_date(), 1 - peer_days) }} and {{ as_of_date() }}

),

product_days as (

    select
        product_id,
        order_date,
        sum(net_amount) as net_amount,
        sum(quantity) as quantity
    from purchases
    group by product_id, order_date

),

calendar as (

    {{ dbt.date_spine(
        'day',
        add_days(grid_start_date(), 1 - peer_days),
        add_days(as_of_date(), 1)
    ) }}

),

product_grid as (

    select
        products_sold.product_id,
        cast(calendar.date_day as date) as order_date
    from (select distinct product_id from product_days) as products_sold
    cross join calendar

),

peer_prices as (

    select
        product_grid.product_id,
        product_grid.order_date,
        sum(coalesce(product_days.net_amount, 0)) over peer_window as peer_net_amount,
        sum(coalesce(product_days.quantity, 0)) over peer_window as peer_quantity
    from product_grid
    left join product_days
        on
            product_grid.product_id = product_days.product_id
            and product_grid.order_date = product_days.order_date
    window peer_window as (
        partition by product_grid.product_id
        order by product_grid.order_date
        rows between {{ peer_days - 1 }} preceding and current row
    )

),

priced as (

    select
        sales_lines.*,
        products.list_price,
        {{ safe_divide('sales_lines.net_amount', 'sales_lines.quantity') }} as net_unit_price,
        {{ safe_divide('peer_prices.peer_net_amount', 'peer_prices.peer_quantity') }} as peer_unit_price
    from sales_lines
    left join products
        on
            sales_lines.product_id = products.product_id
            and sales_lines.order_date between products.valid_from_date and products.valid_to_date
    left join peer_prices
        on
            sales_lines.product_id = peer_prices.product_id
            and sales_lines.order_date = peer_prices.order_date
    where sales_lines.order_date between {{ grid_start_date() }} and {{ as_of_date() }}

),

final as (

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
        is_return,
        list_price,
        net_unit_price,
        peer_unit_price,
        1 - {{ safe_divide('net_unit_price', 'list_price') }} as list_discount_rate,
        1 - {{ safe_divide('net_unit_price', 'peer_unit_price') }} as peer_discount_rate,
        cast(case when not is_return then quantity * list_price end as decimal(18, 2)) as list_value,
        coalesce(
            not is_return
            and net_unit_price <= list_price * (1 - {{ var('price_chaser_min_list_discount') }})
            and net_unit_price <= peer_unit_price * (1 - {{ var('price_chaser_min_peer_discount') }}),
            false
        ) as is_deep_discount
    from priced

)

select * from final
