-- Trailing-window figures per customer for every as-of date of the build (the loaded
-- days in history_start_date..as_of_date), in one pass for all dates. This model decides
-- who gets a tier row on a date (DOMAIN.md §1): every customer with a sales line or a
-- cost-to-serve entry in the window ending on the as-of date, or an open receivable
-- balance on it. A debtor without either gets zero money and counts, no active months
-- and a null median interval.
--
-- Nothing here grows with customers x days where the data is sparse: a customer's rows
-- are its activity days in the span the build looks at (lookback_start_date..as_of_date) and
-- one row per as-of date on which it is tiered (within window_days of an activity day,
-- the islands of its activity, or with an open balance). Window functions over those rows, ordered
-- by day number with RANGE frames (a frame of N days, however many rows it holds), give
-- on each as-of row:
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
{%- set money_columns = window_money_columns() %}
{#- The distinct trailing sums, and each figure as an expression over them (macros/windows.sql). #}
{%- set sums = window_sums() %}
{%- set figures = window_figure_expressions() %}
{%- set summed_columns = [] %}
{%- for window_sum in sums if window_sum.column not in summed_columns %}
{%- do summed_columns.append(window_sum.column) %}
{%- endfor %}
{%- set is_few_as_of_dates = build_days() <= few_as_of_dates() %}
{#- A build of many as-of dates takes the median interval over a window frame where the
    adapter has a windowed median (window_median_supported); a build of a few, and other
    adapters, by a join of each as-of row to the order days of its window. #}
{%- set is_median_joined = is_few_as_of_dates or not window_median_supported() %}

with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}
    where activity_date between {{ lookback_start_date() }} and {{ as_of_date() }}

),

order_days as (

    select * from {{ ref('int_customer_order_days_sequenced') }}

),

order_days_in_lookback as (

    select * from order_days
    where order_date between {{ lookback_start_date() }} and {{ as_of_date() }}

),

as_of_dates as (

    select * from {{ ref('int_as_of_dates_loaded') }}

),

receivables as (

    select * from {{ ref('int_customer_receivables_aged') }}

),

first_orders as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(case when order_date < {{ lookback_start_date() }} then order_date end) as last_order_before_lookback_date
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
    -- Later days count from before the order day + window_days: none before then matters.
    where order_date > {{ add_days(lookback_start_date(), -window_days) }}

),

month_entry_events as (

    select
        customer_id,
        counts_from_date as event_date,
        1 as active_month_delta
    from month_entries
    where counts_from_date >= {{ lookback_start_date() }} and counts_from_date <= {{ as_of_date() }}

    union all

    select
        customer_id,
        counts_until_date as event_date,
        -1 as active_month_delta
    from month_entries
    where
        counts_from_date >= {{ lookback_start_date() }}
        and counts_until_date <= {{ as_of_date() }}

),

-- The customer x as-of date pairs that get a tier row: activity in the window, or an
-- open balance. A build of a few as-of dates looks for each one's activity; a build of
-- many takes the islands of each customer's activity: a new one starts when a day comes
-- window_days or more after the previous one, and the customer is tiered on as-of dates
-- from an island's first day until window_days - 1 days after its last.
{%- if is_few_as_of_dates %}

activity_as_of_rows as (

    select distinct
        customer_days.customer_id,
        as_of_dates.as_of_date
    from customer_days
    inner join as_of_dates
        on
            customer_days.activity_date > {{ add_days('as_of_dates.as_of_date', -window_days) }}
            and customer_days.activity_date <= as_of_dates.as_of_date

),

{%- else %}

activity_gaps as (

    select
        customer_id,
        activity_date,
        case
            when
                lag(activity_date) over (partition by customer_id order by activity_date)
                > {{ add_days('activity_date', -window_days) }}
                then 0
            else 1
        end as is_island_start
    from customer_days

),

activity_islands as (

    select
        customer_id,
        min(activity_date) as first_activity_date,
        {{ add_days('max(activity_date)', window_days - 1) }} as tiered_until_date
    from (
        select
            *,
            sum(is_island_start) over (
                partition by customer_id order by activity_date rows between unbounded preceding and current row
            ) as island_number
        from activity_gaps
    ) as numbered
    group by customer_id, island_number

),

activity_as_of_rows as (

    select
        activity_islands.customer_id,
        as_of_dates.as_of_date
    from activity_islands
    inner join as_of_dates
        on
            activity_islands.first_activity_date <= as_of_dates.as_of_date
            and activity_islands.tiered_until_date >= as_of_dates.as_of_date

),

{%- endif %}

as_of_rows as (

    select
        customer_id,
        as_of_date
    from activity_as_of_rows

    union

    select
        customer_id,
        as_of_date
    from receivables
    where open_balance > 0

),

-- The trailing figures of each as-of row: the last `days` days ending `lag` days before
-- the as-of date. A build of a few as-of dates (a daily run) sums each as-of row's own
-- activity days (group by); a build of many slides window functions (RANGE frames of N
-- days) over one timeline of every row, so that no activity day is read once per as-of
-- date. Both render the same list of sums.
{%- if is_few_as_of_dates %}

window_sums as (

    select
        {%- for window_sum in sums %}
        {%- set days_back = window_sum.days + window_sum.lag %}
        sum(
            case
                when
                    customer_days.activity_date > {{ add_days('as_of_rows.as_of_date', -days_back) }}
                    and customer_days.activity_date <= {{ add_days('as_of_rows.as_of_date', -window_sum.lag) }}
                    then customer_days.{{ window_sum.column }}
            end
        ) as {{ window_sum.name }},
        {%- endfor %}
        as_of_rows.customer_id,
        as_of_rows.as_of_date
    from as_of_rows
    left join customer_days
        on
            as_of_rows.customer_id = customer_days.customer_id
            and as_of_rows.as_of_date >= customer_days.activity_date
    group by as_of_rows.customer_id, as_of_rows.as_of_date

),

last_orders as (

    select
        as_of_rows.customer_id,
        as_of_rows.as_of_date,
        max(order_days.order_date) as last_order_in_lookback_date
    from as_of_rows
    inner join order_days_in_lookback as order_days
        on
            as_of_rows.customer_id = order_days.customer_id
            and as_of_rows.as_of_date >= order_days.order_date
    group by as_of_rows.customer_id, as_of_rows.as_of_date

),

month_counts as (

    select
        as_of_rows.customer_id,
        as_of_rows.as_of_date,
        sum(month_entry_events.active_month_delta) as active_months
    from as_of_rows
    inner join month_entry_events
        on
            as_of_rows.customer_id = month_entry_events.customer_id
            and as_of_rows.as_of_date >= month_entry_events.event_date
    group by as_of_rows.customer_id, as_of_rows.as_of_date

),

windows_in_range as (

    select
        window_sums.*,
        month_counts.active_months,
        last_orders.last_order_in_lookback_date
    from window_sums
    left join last_orders
        on
            window_sums.customer_id = last_orders.customer_id
            and window_sums.as_of_date = last_orders.as_of_date
    left join month_counts
        on
            window_sums.customer_id = month_counts.customer_id
            and window_sums.as_of_date = month_counts.as_of_date

),

{%- else %}

-- What each row brings to the windows: activity days (with the order day's interval),
-- month-entry events, and the as-of rows the windows are read on (all zero).
timeline as (

    select
        customer_days.customer_id,
        {{ day_number('customer_days.activity_date') }} as day_number,
        0 as is_as_of_row,
        {%- for column in summed_columns %}
        customer_days.{{ column }},
        {%- endfor %}
        0 as active_month_delta,
        order_days.order_date,
        order_days.order_interval_days,
        customer_days.activity_date as timeline_date
    from customer_days
    left join order_days_in_lookback as order_days
        on
            customer_days.customer_id = order_days.customer_id
            and customer_days.activity_date = order_days.order_date

    union all

    select
        customer_id,
        {{ day_number('event_date') }} as day_number,
        0 as is_as_of_row,
        {%- for column in summed_columns %}
        0 as {{ column }},
        {%- endfor %}
        active_month_delta,
        null as order_date,
        null as order_interval_days,
        event_date as timeline_date
    from month_entry_events

    union all

    select
        customer_id,
        {{ day_number('as_of_date') }} as day_number,
        1 as is_as_of_row,
        {%- for column in summed_columns %}
        0 as {{ column }},
        {%- endfor %}
        0 as active_month_delta,
        null as order_date,
        null as order_interval_days,
        as_of_date as timeline_date
    from as_of_rows

),

windowed as (

    select
        customer_id,
        timeline_date as as_of_date,
        is_as_of_row,
        {%- for window_sum in sums %}
        sum({{ window_sum.column }}) over (
            partition by customer_id
            order by day_number
            range between {{ window_sum.days + window_sum.lag - 1 }} preceding
            and {{ 'current row' if window_sum.lag == 0 else window_sum.lag ~ ' preceding' }}
        ) as {{ window_sum.name }},
        {%- endfor %}
        {%- if not is_median_joined %}
        {{ median('order_interval_days') }} over (
            partition by customer_id
            order by day_number
            range between {{ window_days - 1 }} preceding and current row
        ) as median_order_interval_days,
        {%- endif %}
        sum(active_month_delta) over history_to_date as active_months,
        max(order_date) over history_to_date as last_order_in_lookback_date
    from timeline
    window history_to_date as (
        partition by customer_id
        order by day_number
        range between unbounded preceding and current row
    )

),

windows_in_range as (

    select * from windowed
    where is_as_of_row = 1

),

{%- endif %}

window_figures as (

    select
        customer_id,
        as_of_date,
        {%- for name, expression in figures.items() %}
        {{ expression }} as {{ name }},
        {%- endfor %}
        {%- if not is_median_joined %}
        median_order_interval_days,
        {%- endif %}
        active_months,
        last_order_in_lookback_date
    from windows_in_range

),
{%- if is_median_joined %}

interval_medians as (

    select
        as_of_rows.customer_id,
        as_of_rows.as_of_date,
        {{ median('order_days.order_interval_days') }} as median_order_interval_days
    from as_of_rows
    inner join order_days_in_lookback as order_days
        on
            as_of_rows.customer_id = order_days.customer_id
            and order_days.order_date > {{ add_days('as_of_rows.as_of_date', -window_days) }}
            and as_of_rows.as_of_date >= order_days.order_date
    group by as_of_rows.customer_id, as_of_rows.as_of_date

),
{%- endif %}

final as (

    select
        window_figures.customer_id,
        window_figures.as_of_date,
        {%- for column in money_columns %}
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
        cast(
            {{ 'interval_medians' if is_median_joined else 'window_figures' }}.median_order_interval_days
            as {{ type_double() }}
        ) as median_order_interval_days,
        cast(coalesce(window_figures.recent_revenue, 0) as {{ type_money() }}) as recent_revenue,
        cast(coalesce(window_figures.mom_current_amount, 0) as {{ type_money() }}) as mom_current_amount,
        cast(coalesce(window_figures.mom_previous_amount, 0) as {{ type_money() }}) as mom_previous_amount,
        cast(coalesce(window_figures.yoy_current_amount, 0) as {{ type_money() }}) as yoy_current_amount,
        cast(coalesce(window_figures.yoy_previous_amount, 0) as {{ type_money() }}) as yoy_previous_amount,
        cast(coalesce(window_figures.recent_contribution, 0) as {{ type_money() }}) as recent_contribution
    from window_figures
    left join first_orders on window_figures.customer_id = first_orders.customer_id
    {%- if is_median_joined %}
    left join interval_medians
        on
            window_figures.customer_id = interval_medians.customer_id
            and window_figures.as_of_date = interval_medians.as_of_date
    {%- endif %}

)

select * from final
