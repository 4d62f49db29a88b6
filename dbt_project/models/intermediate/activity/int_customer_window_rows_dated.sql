-- Every dated row the trailing windows of int_customer_windows_summed read, per customer,
-- in the span the build looks at (lookback_start_date..as_of_date): its activity days (the
-- customer-day columns the window sums read, and the day as order_date when the customer
-- ordered on it, the order days of int_customer_order_days_sequenced) and the events
-- behind active months, so that nothing here grows with customers x days where the data
-- is sparse.
--
-- Active months are calendar months with an order day inside the window, counted exactly
-- with running sums of dated events: an order day d counts for its month on as-of dates D
-- with d in the window and no earlier order day of the same month in the window, from
-- greatest(d, previous order day of the month + window_days) to d + window_days - 1. It
-- enters (+1) on the first of those days and leaves (-1) the day after the last; the sum
-- of the deltas dated on or before D is the count on D.
--
-- Ephemeral: compiled into int_customer_windows_summed, its one reader.
{%- set window_days = var('window_days') | int %}
{%- set summed_columns = window_summed_columns() %}

with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}
    where activity_date between {{ lookback_start_date() }} and {{ as_of_date() }}

),

order_days as (

    select * from {{ ref('int_customer_order_days_sequenced') }}

),

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

-- Most events cancel: a month's later order day enters on the day its earlier one leaves.
-- Only the net change of a day is a timeline row (about two per customer and month, not
-- two per order day, with window_days of a month or more).
month_event_days as (

    select
        customer_id,
        event_date,
        sum(active_month_delta) as active_month_delta
    from month_entry_events
    group by customer_id, event_date
    having sum(active_month_delta) <> 0

),

final as (

    select
        customer_days.customer_id,
        {{ day_number('customer_days.activity_date') }} as day_number,
        {%- for column in summed_columns %}
        customer_days.{{ column }},
        {%- endfor %}
        0 as active_month_delta,
        case when customer_days.order_count > 0 then customer_days.activity_date end as order_date,
        customer_days.activity_date as timeline_date,
        true as is_activity_day
    from customer_days

    union all

    select
        customer_id,
        {{ day_number('event_date') }} as day_number,
        {%- for column in summed_columns %}
        0 as {{ column }},
        {%- endfor %}
        active_month_delta,
        null as order_date,
        event_date as timeline_date,
        false as is_activity_day
    from month_event_days

)

select * from final
