-- Trailing-window figures per customer for every as-of date of the build (the loaded
-- days in history_start_date..as_of_date), in one pass for all dates. This model decides
-- who gets a tier row on a date (DOMAIN.md §1): every customer with a sales line or a
-- cost-to-serve entry in the window ending on the as-of date, or an open receivable
-- balance on it. A debtor without either gets zero money and counts, no active months
-- and a null median interval. On each as-of row:
--   * money and counts: sums over the last window_days days;
--   * growth: the basis metric over the last growth_mom_days days vs the growth_mom_days
--     before, and over the last growth_yoy_days vs the same days growth_year_lag_days earlier;
--   * active months: calendar months with an order day inside the window;
--   * median interval between order days, on order days inside the window;
--   * recent contribution: the basis metric over the last outlook_run_rate_days days (the
--     outlook's run rate).
--
-- Nothing here grows with customers x days where the data is sparse. Computed in steps
-- compiled into this model (ephemeral): int_customer_as_of_dates_selected (who gets a
-- row on which date), int_customer_window_rows_dated (the activity days and month events
-- the windows read) and int_customer_windows_summed (the distinct trailing sums,
-- macros/windows.sql). This model gives them the published shape: each figure from its
-- sums, first and last order days, the columns in order and types.
{%- set figures = window_figure_expressions() %}

with

windows as (

    select * from {{ ref('int_customer_windows_summed') }}

),

order_days as (

    select * from {{ ref('int_customer_order_days_sequenced') }}

),

first_orders as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(case when order_date < {{ lookback_start_date() }} then order_date end) as last_order_before_lookback_date
    from order_days
    group by customer_id

),

window_figures as (

    select
        customer_id,
        as_of_date,
        {%- for name, expression in figures.items() %}
        {{ expression }} as {{ name }},
        {%- endfor %}
        median_order_interval_days,
        active_months,
        last_order_in_lookback_date
    from windows

),

final as (

    select
        window_figures.customer_id,
        window_figures.as_of_date,
        {%- for column in window_money_columns() %}
        cast(coalesce(window_figures.{{ column }}, 0) as {{ type_money() }}) as {{ column }},
        {%- endfor %}
        cast(coalesce(window_figures.order_count, 0) as bigint) as order_count,
        cast(coalesce(window_figures.line_count, 0) as bigint) as line_count,
        coalesce(window_figures.line_count, 0) > 0 as has_sales_in_window,
        cast(coalesce(window_figures.active_months, 0) as bigint) as active_months,
        case
            when first_orders.first_order_date <= window_figures.as_of_date then first_orders.first_order_date
        end as first_order_date,
        coalesce(
            window_figures.last_order_in_lookback_date, first_orders.last_order_before_lookback_date
        ) as last_order_date,
        cast(window_figures.median_order_interval_days as {{ type_double() }}) as median_order_interval_days,
        cast(coalesce(window_figures.recent_revenue, 0) as {{ type_money() }}) as recent_revenue,
        cast(coalesce(window_figures.mom_current_amount, 0) as {{ type_money() }}) as mom_current_amount,
        cast(coalesce(window_figures.mom_previous_amount, 0) as {{ type_money() }}) as mom_previous_amount,
        cast(coalesce(window_figures.yoy_current_amount, 0) as {{ type_money() }}) as yoy_current_amount,
        cast(coalesce(window_figures.yoy_previous_amount, 0) as {{ type_money() }}) as yoy_previous_amount,
        cast(coalesce(window_figures.recent_contribution, 0) as {{ type_money() }}) as recent_contribution
    from window_figures
    left join first_orders on window_figures.customer_id = first_orders.customer_id

)

select * from final
