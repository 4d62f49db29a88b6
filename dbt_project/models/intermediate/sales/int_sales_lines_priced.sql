-- Each sales line with the prices it is judged against (DOMAIN.md sections 5 and 6):
-- the product's list price valid on the order date, and what all customers paid on
-- average for the product over the trailing price_chaser_peer_days days (quantity-
-- weighted, purchases only, the line's own day included). A purchase line is at deep
-- discount when its net unit price is far enough below both.
--
-- Incremental by order day: a build prices the lines of the days it recomputes
-- (is_recomputed_day, macros/run_dates.sql), the peer window reaching back
-- price_chaser_peer_days before them.
{%- set peer_days = var('price_chaser_peer_days') | int %}
{{ config(
    pre_hook="{{ delete_recomputed_days('order_date') }}",
) }}

with

sales_lines as (

    select * from {{ ref('stg_erp__sales_lines') }}
    where {{ is_recomputed_day('order_date', peer_days - 1) }}

),

products as (

    select * from {{ ref('int_products_versioned') }}

),

-- Every product and day with a sales line in the span, with its purchases (net amount
-- and quantity; returns count as nothing): the rows the peer window slides over.
product_days as (

    select
        product_id,
        order_date,
        sum(case when not is_return and quantity > 0 then net_amount else 0 end) as net_amount,
        sum(case when not is_return and quantity > 0 then quantity else 0 end) as quantity
    from sales_lines
    group by product_id, order_date

),

peer_prices as (

    select
        product_id,
        order_date,
        sum(net_amount) over peer_window as peer_net_amount,
        sum(quantity) over peer_window as peer_quantity
    from product_days
    window peer_window as (
        partition by product_id
        order by {{ day_number('order_date') }}
        range between {{ peer_days - 1 }} preceding and current row
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
    where {{ is_recomputed_day('sales_lines.order_date') }}

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
        cast(case when not is_return then quantity * list_price end as {{ type_money() }}) as list_value,
        coalesce(
            not is_return
            and net_unit_price <= list_price * (1 - {{ var('price_chaser_min_list_discount') }})
            and net_unit_price <= peer_unit_price * (1 - {{ var('price_chaser_min_peer_discount') }}),
            false
        ) as is_deep_discount
    from priced

)

select * from final
