-- Product master as validity intervals: a snapshot's rows hold from its date until the
-- day before the next stored snapshot, so "list price as of D" is a range filter.
with

products as (

    select * from {{ ref('stg_erp__products') }}

),

snapshot_dates as (

    select distinct snapshot_date from products

),

snapshot_intervals as (

    select
        snapshot_date,
        lead(snapshot_date) over (order by snapshot_date) as next_snapshot_date
    from snapshot_dates

),

final as (

    select
        products.product_id,
        products.product_name,
        products.category,
        products.list_price,
        products.unit_cost,
        products.snapshot_date as valid_from_date,
        coalesce(
            {{ add_days('snapshot_intervals.next_snapshot_date', -1) }},
            cast('9999-12-31' as date)
        ) as valid_to_date
    from products
    inner join snapshot_intervals on products.snapshot_date = snapshot_intervals.snapshot_date

)

select * from final
