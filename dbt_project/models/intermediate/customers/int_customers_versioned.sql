-- Customer master as validity intervals, one row per version (macros/versioned.sql), so
-- "customer as of D" is a range filter. Only the versions in force from
-- history_start_date on: its readers (int_customer_profiles_joined, receivables_aging)
-- look customers up on the build's as-of dates alone, so the snapshots stored before the
-- one in force on history_start_date are left out and a daily build does not grow with
-- years of snapshots. (Products keep every version: a full rebuild of the sales-line
-- layer prices every day loaded.)
with

stored_customers as (

    select * from {{ ref('stg_erp__customers') }}

),

first_snapshot_read as (

    select
        coalesce(
            max(case when snapshot_date <= {{ history_start_date() }} then snapshot_date end),
            min(snapshot_date)
        ) as snapshot_date
    from stored_customers

),

customers as (

    select stored_customers.*
    from stored_customers
    inner join first_snapshot_read on stored_customers.snapshot_date >= first_snapshot_read.snapshot_date

),

{{ versioned_snapshots(
    'customers',
    'customer_id',
    ['customer_name', 'region', 'channel', 'created_date', 'credit_limit', 'is_blocked'],
) }}

select * from final
