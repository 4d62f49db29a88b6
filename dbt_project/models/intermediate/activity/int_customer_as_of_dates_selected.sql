-- The customer x as-of date pairs that get a tier row (DOMAIN.md §1), for every as-of date
-- of the build (the loaded days in history_start_date..as_of_date): every customer with a
-- sales line or a cost-to-serve entry in the window ending on the as-of date, or an open
-- receivable balance on it.
--
-- A build of a few as-of dates looks for each one's activity; a build of many takes the
-- islands of each customer's activity: a new one starts when a day comes window_days or
-- more after the previous one, and the customer is tiered on as-of dates from an island's
-- first day until window_days - 1 days after its last (no customer x date grid where the
-- data is sparse).
--
-- Ephemeral: compiled into int_customer_windows_summed, its one reader.
{%- set window_days = var('window_days') | int %}

with

customer_days as (

    select * from {{ ref('int_customer_days_aggregated') }}
    where activity_date between {{ lookback_start_date() }} and {{ as_of_date() }}

),

as_of_dates as (

    select * from {{ ref('int_as_of_dates_loaded') }}

),

receivables as (

    select * from {{ ref('int_customer_receivables_aged') }}

),

{%- if build_days() <= few_as_of_dates() %}

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

final as (

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

)

select * from final
