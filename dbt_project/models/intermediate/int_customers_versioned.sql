-- Customer master as validity intervals: a snapshot's rows hold from its date until the
-- day before the next stored snapshot, so "customer as of D" is a range filter.
with

customers as (

    select * from {{ ref('stg_erp__customers') }}

),

snapshot_dates as (

    select distinct snapshot_date from customers

),

snapshot_intervals as (

    select
        snapshot_date,
        lead(snapshot_date) over (order by snapshot_date) as next_snapshot_date
    from snapshot_dates

),

final as (

    select
        customers.customer_id,
        customers.customer_name,
        customers.region,
        customers.channel,
        customers.created_date,
        customers.credit_limit,
        customers.is_blocked,
        customers.snapshot_date as valid_from_date,
        coalesce(
            cast({{ dbt.dateadd('day', -1, 'snapshot_intervals.next_snapshot_date') }} as date),
            cast('9999-12-31' as date)
        ) as valid_to_date
    from customers
    inner join snapshot_intervals on customers.snapshot_date = snapshot_intervals.snapshot_date

)

select * from final
