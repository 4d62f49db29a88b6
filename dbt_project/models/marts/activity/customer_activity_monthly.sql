-- The company-wide monthly baseline for churn watching (DOMAIN.md section 5), as of the
-- build's as-of date: transacting customers and average order value per month, compared
-- with the average of the previous activity_baseline_months complete months; a complete
-- month deviating by more than activity_deviation_threshold is flagged. The as-of date's
-- own month is partial (is_complete_month false, no flags). Customer-level churn alerts
-- are in customer_alerts. Orders are read off the customer days (purchase orders and the
-- value of their lines, returns left out), an order dated by its lines' order date.
{%- set baseline_months = var('activity_baseline_months') | int %}

with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}

),

order_days as (

    select
        customer_id,
        {{ dbt.date_trunc('month', 'activity_date') }} as month_start_date,
        order_count,
        order_value
    from customer_days
    where order_count > 0 and activity_date <= {{ as_of_date() }}

),

months as (

    select
        cast(month_start_date as date) as month_start_date,
        count(distinct customer_id) as transacting_customers,
        sum(order_count) as order_count,
        sum(order_value) as order_value,
        {{ safe_divide('sum(order_value)', 'sum(order_count)') }} as avg_order_value
    from order_days
    group by month_start_date

),

flagged_months as (

    select
        *,
        {{ add_days(as_of_date(), 1) }} >= cast({{ dbt.dateadd('month', 1, 'month_start_date') }} as date)
            as is_complete_month
    from months

),

baselines as (

    select
        *,
        -- a double on every adapter (Postgres averages integers as numeric)
        avg(case when is_complete_month then cast(transacting_customers as {{ type_double() }}) end)
            over baseline_window as baseline_transacting_customers,
        avg(case when is_complete_month then avg_order_value end) over baseline_window
            as baseline_avg_order_value
    from flagged_months
    window baseline_window as (
        order by month_start_date
        rows between {{ baseline_months }} preceding and 1 preceding
    )

),

deviations as (

    select
        *,
        {{ safe_divide('transacting_customers - baseline_transacting_customers', 'baseline_transacting_customers') }}
            as transacting_customers_deviation,
        {{ safe_divide('avg_order_value - baseline_avg_order_value', 'baseline_avg_order_value') }}
            as avg_order_value_deviation
    from baselines

),

final as (

    select
        {{ as_of_date() }} as as_of_date,
        month_start_date,
        is_complete_month,
        cast(transacting_customers as bigint) as transacting_customers,
        cast(order_count as bigint) as order_count,
        cast(order_value as {{ type_money() }}) as order_value,
        avg_order_value,
        cast(baseline_transacting_customers as {{ type_double() }}) as baseline_transacting_customers,
        cast(baseline_avg_order_value as {{ type_double() }}) as baseline_avg_order_value,
        transacting_customers_deviation,
        avg_order_value_deviation,
        case
            when is_complete_month
                then abs(transacting_customers_deviation) > {{ var('activity_deviation_threshold') }}
        end as is_transacting_customers_deviating,
        case
            when is_complete_month
                then abs(avg_order_value_deviation) > {{ var('activity_deviation_threshold') }}
        end as is_avg_order_value_deviating
    from deviations

)

select * from final
