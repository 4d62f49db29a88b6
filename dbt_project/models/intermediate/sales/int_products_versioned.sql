-- Product master as validity intervals, one row per version (macros/versioned.sql), so
-- "list price as of D" is a range filter.
with

products as (

    select * from {{ ref('stg_erp__products') }}

),

{{ versioned_snapshots('products', 'product_id', ['product_name', 'category', 'list_price', 'unit_cost']) }}

select * from final
