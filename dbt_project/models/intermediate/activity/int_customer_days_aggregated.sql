-- Sales and cost to serve per customer per business day: the grain every trailing window
-- is summed over, so windows never re-read raw lines. Incremental by day, like the
-- priced lines it reads (is_recomputed_day, macros/run_dates.sql). A day with costs but no sales has
-- line_count 0; cost_entry_count counts its entries, since any cost-to-serve entry in the
-- window gives the customer a tier row, whatever its amount.
{{ config(
    pre_hook="{{ delete_recomputed_days('activity_date') }}",
) }}

with

sales_lines as (

    select * from {{ ref('int_sales_lines_priced') }}
    where {{ is_recomputed_day('order_date') }}

),

cost_to_serve as (

    select * from {{ ref('stg_erp__cost_to_serve') }}
    where {{ is_recomputed_day('entry_date') }}

),

sales_days as (

    select
        customer_id,
        order_date as activity_date,
        sum(net_amount) as revenue,
        sum(cost_amount) as cogs,
        count(distinct case when not is_return then order_id end) as order_count,
        sum(case when not is_return then net_amount else 0 end) as order_value,
        count(*) as line_count,
        sum(coalesce(list_value, 0)) as list_value,
        sum(case when is_deep_discount then list_value else 0 end) as deep_discount_list_value
    from sales_lines
    group by customer_id, order_date

),

cost_days as (

    select
        customer_id,
        entry_date as activity_date,
        {%- for kind in cost_kinds() %}
        sum(case when cost_kind = '{{ kind }}' then amount else 0 end) as {{ kind }}_cost,
        {%- endfor %}
        sum(amount) as cost_to_serve,
        count(*) as cost_entry_count
    from cost_to_serve
    group by customer_id, entry_date

),

customer_days as (

    select
        coalesce(sales_days.customer_id, cost_days.customer_id) as customer_id,
        coalesce(sales_days.activity_date, cost_days.activity_date) as activity_date,
        coalesce(sales_days.revenue, 0) as revenue,
        coalesce(sales_days.cogs, 0) as cogs,
        {%- for kind in cost_kinds() %}
        coalesce(cost_days.{{ kind }}_cost, 0) as {{ kind }}_cost,
        {%- endfor %}
        coalesce(cost_days.cost_to_serve, 0) as cost_to_serve,
        coalesce(cost_days.cost_entry_count, 0) as cost_entry_count,
        coalesce(sales_days.order_count, 0) as order_count,
        coalesce(sales_days.order_value, 0) as order_value,
        coalesce(sales_days.line_count, 0) as line_count,
        coalesce(sales_days.list_value, 0) as list_value,
        coalesce(sales_days.deep_discount_list_value, 0) as deep_discount_list_value
    from sales_days
    full outer join cost_days
        on
            sales_days.customer_id = cost_days.customer_id
            and sales_days.activity_date = cost_days.activity_date

),

final as (

    select
        customer_id,
        activity_date,
        cast(revenue as {{ type_money() }}) as revenue,
        cast(cogs as {{ type_money() }}) as cogs,
        cast(revenue - cogs as {{ type_money() }}) as gross_profit,
        {%- for kind in cost_kinds() %}
        cast({{ kind }}_cost as {{ type_money() }}) as {{ kind }}_cost,
        {%- endfor %}
        cast(cost_to_serve as {{ type_money() }}) as cost_to_serve,
        cast(revenue - cogs - cost_to_serve as {{ type_money() }}) as customer_profit,
        cast(order_count as bigint) as order_count,
        cast(order_value as {{ type_money() }}) as order_value,
        cast(line_count as bigint) as line_count,
        cast(cost_entry_count as bigint) as cost_entry_count,
        cast(list_value as {{ type_money() }}) as list_value,
        cast(deep_discount_list_value as {{ type_money() }}) as deep_discount_list_value
    from customer_days

)

select * from final
