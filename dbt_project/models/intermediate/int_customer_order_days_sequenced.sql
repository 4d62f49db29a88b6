-- Every day a customer placed a purchase order (up to the as-of date, all history), with
-- the order day before it: the intervals between orders (loyalty, churn by silence) and
-- the first order day of each calendar month (active months) come from here.
with

sales_lines as (

    select * from {{ ref('stg_erp__sales_lines') }}

),

order_days as (

    select
        customer_id,
        order_date,
        count(distinct order_id) as order_count
    from sales_lines
    where not is_return and order_date <= {{ as_of_date() }}
    group by customer_id, order_date

),

sequenced as (

    select
        customer_id,
        order_date,
        order_count,
        {{ dbt.date_trunc('month', 'order_date') }} as order_month_start_date,
        row_number() over (partition by customer_id order by order_date) as order_day_number,
        min(order_date) over (partition by customer_id) as first_order_date,
        lag(order_date) over (partition by customer_id order by order_date) as previous_order_date
    from order_days

),

final as (

    select
        customer_id,
        order_date,
        cast(order_month_start_date as date) as order_month_start_date,
        cast(order_count as bigint) as order_count,
        cast(order_day_number as bigint) as order_day_number,
        first_order_date,
        previous_order_date,
        case
            when {{ dbt.date_trunc('month', 'previous_order_date') }} = order_month_start_date
                then previous_order_date
        end as previous_order_date_in_month,
        cast({{ days_between('previous_order_date', 'order_date') }} as integer) as order_interval_days
    from sequenced

)

select * from final
