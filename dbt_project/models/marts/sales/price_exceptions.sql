-- Violations of the uniform supply price (DOMAIN.md section 6): the same product, the
-- same day, a customer paying a net unit price (net amount / quantity, line discounts
-- included) lower than the highest price another customer paid that day by more than
-- price_exception_tolerance. One row per (day, product, customer paying less), against
-- the customer that paid the most (ties by customer id); is_bigger_tier_paying_less marks
-- the worst case, a better tier paying less than a smaller customer. as_of_date is the
-- sales day. History mart: a build holds its as-of dates, which publishing replaces.

with

sales_lines as (

    select * from {{ ref('int_sales_lines_priced') }}

),

history as (

    select * from {{ ref('customer_tier_history') }}
    where as_of_date between {{ history_start_date() }} and {{ as_of_date() }}

),

customer_prices as (

    select
        order_date,
        product_id,
        customer_id,
        sum(quantity) as quantity,
        sum(net_amount) as net_amount,
        {{ safe_divide('sum(net_amount)', 'sum(quantity)') }} as unit_price
    from sales_lines
    where
        not is_return
        and quantity > 0
        and order_date between {{ history_start_date() }} and {{ as_of_date() }}
    group by order_date, product_id, customer_id

),

ranked_prices as (

    select
        *,
        row_number() over (
            partition by order_date, product_id order by unit_price desc, customer_id asc
        ) as price_rank
    from customer_prices

),

reference_prices as (

    select
        order_date,
        product_id,
        customer_id as reference_customer_id,
        unit_price as reference_unit_price
    from ranked_prices
    where price_rank = 1

),

exceptions as (

    select
        customer_prices.order_date as as_of_date,
        customer_prices.product_id,
        customer_prices.customer_id,
        customer_prices.quantity,
        customer_prices.unit_price,
        reference_prices.reference_customer_id,
        reference_prices.reference_unit_price,
        1 - customer_prices.unit_price / reference_prices.reference_unit_price as price_gap_rate
    from customer_prices
    inner join reference_prices
        on
            customer_prices.order_date = reference_prices.order_date
            and customer_prices.product_id = reference_prices.product_id
    where
        customer_prices.unit_price
        < reference_prices.reference_unit_price * (1 - {{ var('price_exception_tolerance') }})

),

final as (

    select
        exceptions.as_of_date,
        exceptions.product_id,
        exceptions.customer_id,
        customer_tiers.tier,
        cast(exceptions.quantity as {{ type_decimal(18, 3) }}) as quantity,
        cast(exceptions.unit_price as {{ type_double() }}) as unit_price,
        exceptions.reference_customer_id,
        reference_tiers.tier as reference_tier,
        cast(exceptions.reference_unit_price as {{ type_double() }}) as reference_unit_price,
        cast(exceptions.price_gap_rate as {{ type_double() }}) as price_gap_rate,
        coalesce(
            {{ tier_rank('customer_tiers.tier') }} < {{ tier_rank('reference_tiers.tier') }},
            false
        ) as is_bigger_tier_paying_less
    from exceptions
    left join history as customer_tiers
        on
            exceptions.customer_id = customer_tiers.customer_id
            and exceptions.as_of_date = customer_tiers.as_of_date
    left join history as reference_tiers
        on
            exceptions.reference_customer_id = reference_tiers.customer_id
            and exceptions.as_of_date = reference_tiers.as_of_date

)

select * from final
