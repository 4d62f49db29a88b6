-- Customer master as validity intervals, one row per version (macros/versioned.sql), so
-- "customer as of D" is a range filter.
with

customers as (

    select * from {{ ref('stg_erp__customers') }}

),

{{ versioned_snapshots(
    'customers',
    'customer_id',
    ['customer_name', 'region', 'channel', 'created_date', 'credit_limit', 'is_blocked'],
) }}

select * from final
