-- Every day a customer placed a purchase order (every loaded day, like the customer days
-- it reads: readers cut at their as-of date), with the order day before it: the
-- intervals between orders (loyalty, churn by silence) and the first order day of each
-- calendar month (active months) come from here.
--
-- Incremental by day like the customer days: a build recomputes the order days from
-- history_start_date on, numbered on from the customer's order days before it.
{{ config(
    pre_hook="{{ delete_recomputed_days('order_date') }}",
) }}

with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}
    where order_count > 0 and {{ is_recomputed_day('activity_date') }}

),

{%- if is_incremental() %}

-- What a customer's order days before the recomputed ones add up to (the pre-hook has
-- deleted the recomputed ones).
earlier_order_days as (

    select
        customer_id,
        count(*) as order_days_before,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date
    from {{ this }}
    group by customer_id

),

{%- else %}

earlier_order_days as (

    select
        customer_id,
        0 as order_days_before,
        activity_date as first_order_date,
        activity_date as last_order_date
    from customer_days
    where 1 = 0

),

{%- endif %}

sequenced as (

    select
        customer_days.customer_id,
        customer_days.activity_date as order_date,
        customer_days.order_count,
        {{ dbt.date_trunc('month', 'customer_days.activity_date') }} as order_month_start_date,
        coalesce(earlier_order_days.order_days_before, 0) + row_number() over (
            partition by customer_days.customer_id order by customer_days.activity_date
        ) as order_day_number,
        coalesce(
            earlier_order_days.first_order_date,
            min(customer_days.activity_date) over (partition by customer_days.customer_id)
        ) as first_order_date,
        coalesce(
            lag(customer_days.activity_date) over (
                partition by customer_days.customer_id order by customer_days.activity_date
            ),
            earlier_order_days.last_order_date
        ) as previous_order_date
    from customer_days
    left join earlier_order_days on customer_days.customer_id = earlier_order_days.customer_id

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
