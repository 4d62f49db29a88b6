-- Trailing-window figures per customer for every as-of date of the build
-- (the loaded days in history_start_date..as_of_date): a dense customer x day grid summed with sliding
-- windows, one pass for all dates instead of one query per date. This model decides who
-- gets a tier row on a date (DOMAIN.md §1): every customer with a sales line or a
-- cost-to-serve entry in the window ending on the as-of date, or an open receivable
-- balance on it. The grid holds the customers with sales or costs in its span; a debtor
-- without either has no grid rows and gets zero money and counts, no active months and
-- null median interval, as the grid gives a customer with nothing in the window.
--   * money and counts: sums over the last window_days days;
--   * growth: the basis metric over the last growth_mom_days days vs the growth_mom_days
--     before, and over the last growth_yoy_days vs the same days growth_year_lag_days earlier;
--   * active months: calendar months with an order day inside the window, counted exactly
--     with running sums of dated events (an order day counts for its month from the first
--     as-of date on which it is that month's earliest order day in the window, until it
--     leaves the window);
--   * median interval between order days, on order days inside the window;
--   * recent contribution: the basis metric over the last outlook_run_rate_days days (the
--     outlook's run rate).
{%- set window_days = var('window_days') | int %}
{%- set mom_days = var('growth_mom_days') | int %}
{%- set yoy_days = var('growth_yoy_days') | int %}
{%- set year_lag = var('growth_year_lag_days') | int %}
{%- set recent_days = var('churn_recent_days') | int %}
{%- set run_rate_days = var('outlook_run_rate_days') | int %}
{%- set money_columns = ['revenue', 'cogs', 'gross_profit'] -%}
{%- for kind in cost_kinds() %}{% do money_columns.append(kind ~ '_cost') %}{% endfor -%}
{%- do money_columns.extend(['cost_to_serve', 'customer_profit', 'list_value', 'deep_discount_list_value']) %}

with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}

),

order_days as (

    select * from {{ ref('int_customer_order_days_sequenced') }}

),

as_of_dates as (

    select * from {{ ref('int_as_of_dates_loaded') }}

),

receivables as (

    select * from {{ ref('int_customer_receivables_aged') }}

),

calendar as (

    {{ dbt.date_spine('day', grid_start_date(), add_days(as_of_date(), 1)) }}

),

grid_days as (

    select cast(date_day as date) as activity_date
    from calendar

),

customers_in_span as (

    select distinct customer_id
    from customer_days

),

first_orders as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(case when order_date < {{ grid_start_date() }} then order_date end) as last_order_before_grid_date
    from order_days
    group by customer_id

),

-- An order day d counts for its month on as-of dates D with d in the window and no
-- earlier order day of the same month in the window: from greatest(d, previous order day
-- of the month + window_days) to d + window_days - 1.
month_entries as (

    select
        customer_id,
        case
            when previous_order_date_in_month is null then order_date
            else greatest(order_date, {{ add_days('previous_order_date_in_month', window_days) }})
        end as counts_from_date,
        {{ add_days('order_date', window_days) }} as counts_until_date
    from order_days

),

month_entry_events as (

    select customer_id, counts_from_date as event_date, 1 as active_month_delta
    from month_entries
    where counts_from_date >= {{ grid_start_date() }} and counts_from_date <= {{ as_of_date() }}

    union all

    select customer_id, counts_until_date as event_date, -1 as active_month_delta
    from month_entries
    where
        counts_from_date >= {{ grid_start_date() }}
        and counts_until_date <= {{ as_of_date() }}

),

month_entry_days as (

    select
        customer_id,
        event_date,
        sum(active_month_delta) as active_month_delta
    from month_entry_events
    group by customer_id, event_date

),

grid as (

    select
        customers_in_span.customer_id,
        grid_days.activity_date,
        {%- for column in money_columns %}
        coalesce(customer_days.{{ column }}, 0) as {{ column }},
        {%- endfor %}
        coalesce(customer_days.order_count, 0) as order_count,
        coalesce(customer_days.line_count, 0) as line_count,
        coalesce(customer_days.cost_entry_count, 0) as cost_entry_count,
        coalesce(customer_days.{{ tier_basis_column() }}, 0) as basis_amount,
        coalesce(month_entry_days.active_month_delta, 0) as active_month_delta,
        order_days.order_date,
        order_days.order_interval_days
    from customers_in_span
    cross join grid_days
    left join customer_days
        on
            customers_in_span.customer_id = customer_days.customer_id
            and grid_days.activity_date = customer_days.activity_date
    left join month_entry_days
        on
            customers_in_span.customer_id = month_entry_days.customer_id
            and grid_days.activity_date = month_entry_days.event_date
    left join order_days
        on
            customers_in_span.customer_id = order_days.customer_id
            and grid_days.activity_date = order_days.order_date

),

windowed as (

    select
        customer_id,
        activity_date as as_of_date,
        {%- for column in money_columns %}
        sum({{ column }}) over trailing_window as {{ column }},
        {%- endfor %}
        sum(order_count) over trailing_window as order_count,
        sum(line_count) over trailing_window as line_count,
        sum(cost_entry_count) over trailing_window as cost_entry_count,
        sum(active_month_delta) over history_to_date as active_months,
        max(order_date) over history_to_date as last_order_in_grid_date,
        {{ median('order_interval_days') }} over trailing_window as median_order_interval_days,
        sum(revenue) over (
            partition by customer_id order by activity_date
            rows between {{ recent_days - 1 }} preceding and current row
        ) as recent_revenue,
        sum(basis_amount) over (
            partition by customer_id order by activity_date
            rows between {{ mom_days - 1 }} preceding and current row
        ) as mom_current_amount,
        sum(basis_amount) over (
            partition by customer_id order by activity_date
            rows between {{ 2 * mom_days - 1 }} preceding and {{ mom_days }} preceding
        ) as mom_previous_amount,
        sum(basis_amount) over (
            partition by customer_id order by activity_date
            rows between {{ yoy_days - 1 }} preceding and current row
        ) as yoy_current_amount,
        sum(basis_amount) over (
            partition by customer_id order by activity_date
            rows between {{ year_lag + yoy_days - 1 }} preceding and {{ year_lag }} preceding
        ) as yoy_previous_amount,
        sum(basis_amount) over (
            partition by customer_id order by activity_date
            rows between {{ run_rate_days - 1 }} preceding and current row
        ) as recent_contribution
    from grid
    window
        trailing_window as (
            partition by customer_id
            order by activity_date
            rows between {{ window_days - 1 }} preceding and current row
        ),
        history_to_date as (
            partition by customer_id
            order by activity_date
            rows between unbounded preceding and current row
        )

),

windows_in_range as (

    select * from windowed
    where as_of_date in (select as_of_date from as_of_dates)

),

tiered as (

    select customer_id, as_of_date
    from windows_in_range
    where line_count > 0 or cost_entry_count > 0

    union

    select customer_id, as_of_date
    from receivables
    where open_balance > 0

),

final as (

    select
        tiered.customer_id,
        tiered.as_of_date,
        {%- for column in money_columns %}
        cast(coalesce(windows_in_range.{{ column }}, 0) as decimal(18, 2)) as {{ column }},
        {%- endfor %}
        cast(coalesce(windows_in_range.order_count, 0) as bigint) as order_count,
        cast(coalesce(windows_in_range.line_count, 0) as bigint) as line_count,
        coalesce(windows_in_range.line_count, 0) > 0 as has_sales_in_window,
        cast(coalesce(windows_in_range.active_months, 0) as bigint) as active_months,
        case
            when first_orders.first_order_date <= tiered.as_of_date then first_orders.first_order_date
        end as first_order_date,
        coalesce(windows_in_range.last_order_in_grid_date, first_orders.last_order_before_grid_date) as last_order_date,
        cast(windows_in_range.median_order_interval_days as double) as median_order_interval_days,
        cast(coalesce(windows_in_range.recent_revenue, 0) as decimal(18, 2)) as recent_revenue,
        cast(coalesce(windows_in_range.mom_current_amount, 0) as decimal(18, 2)) as mom_current_amount,
        cast(coalesce(windows_in_range.mom_previous_amount, 0) as decimal(18, 2)) as mom_previous_amount,
        cast(coalesce(windows_in_range.yoy_current_amount, 0) as decimal(18, 2)) as yoy_current_amount,
        cast(coalesce(windows_in_range.yoy_previous_amount, 0) as decimal(18, 2)) as yoy_previous_amount,
        cast(coalesce(windows_in_range.recent_contribution, 0) as decimal(18, 2)) as recent_contribution
    from tiered
    left join windows_in_range
        on
            tiered.customer_id = windows_in_range.customer_id
            and tiered.as_of_date = windows_in_range.as_of_date
    left join first_orders on tiered.customer_id = first_orders.customer_id

)

select * from final
