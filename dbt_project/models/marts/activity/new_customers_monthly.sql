-- New customers per month as of the build's as-of date (DOMAIN.md section 7): customers
-- whose first order falls in the month, and how many of them ordered again on a later day
-- (by the as-of date, and within repeat_buyer_days of their first order). The first month
-- of data counts every customer as new (is_first_data_month); the as-of date's own month is
-- partial.
with

order_days as (

    select * from {{ ref('int_customer_order_days_sequenced') }}
    where order_date <= {{ as_of_date() }}

),

months as (

    select distinct order_month_start_date from order_days

),

first_orders as (

    select
        customer_id,
        order_month_start_date as month_start_date,
        order_date as first_order_date
    from order_days
    where order_day_number = 1

),

second_orders as (

    select
        customer_id,
        order_date as second_order_date
    from order_days
    where order_day_number = 2

),

cohorts as (

    select
        first_orders.month_start_date,
        count(*) as new_customers,
        count(second_orders.second_order_date) as repeat_customers,
        sum(
            case
                when
                    second_orders.second_order_date
                    <= {{ add_days('first_orders.first_order_date', var('repeat_buyer_days')) }}
                    then 1
                else 0
            end
        ) as repeat_within_days_customers
    from first_orders
    left join second_orders on first_orders.customer_id = second_orders.customer_id
    group by first_orders.month_start_date

),

final as (

    select
        {{ as_of_date() }} as as_of_date,
        months.order_month_start_date as month_start_date,
        cast(coalesce(cohorts.new_customers, 0) as bigint) as new_customers,
        cast(coalesce(cohorts.repeat_customers, 0) as bigint) as repeat_customers,
        {{ safe_divide('cohorts.repeat_customers', 'cohorts.new_customers') }} as repeat_rate,
        cast(coalesce(cohorts.repeat_within_days_customers, 0) as bigint) as repeat_within_days_customers,
        months.order_month_start_date = (
            select min(data_months.order_month_start_date) from months as data_months
        ) as is_first_data_month,
        (
            months.order_month_start_date = {{ dbt.date_trunc('month', as_of_date()) }}
            and {{ add_days(as_of_date(), 1) }} < {{ dbt.dateadd('month', 1, dbt.date_trunc('month', as_of_date())) }}
        ) as is_partial_month
    from months
    left join cohorts on months.order_month_start_date = cohorts.month_start_date

)

select * from final
