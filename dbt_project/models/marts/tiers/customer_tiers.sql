-- customer_tier_history on the build's as-of date (the pipeline's run date, normally the
-- latest): what BI dashboards show as "now".
with

history as (

    select * from {{ ref('customer_tier_history') }}

),

final as (

    select *
    from history
    where as_of_date = {{ as_of_date() }}

)

select * from final
