-- Every day a customer placed a purchase order (up to the as-of date, all history), with
-- the order day before it: the intervals between orders (loyalty, churn by silence) and
-- the first order day of each calendar month (active months) come from here. Read from
-- the customer days (a day with a purchase order), not from the raw lines.
with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}

),

order_days as (

    select
        customer_id,
        activity_date as order_date,
        order_count
    from customer_days
    where order_count > 0 and activity_date <= {{ as_of_date() }}

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
        cast(
            {{ days_between('previous_order_date', 'order_date') }}
            as integer
        ) as order_interval_days
    from sequenced

)

select * from final
