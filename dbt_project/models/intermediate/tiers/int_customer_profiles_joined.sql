-- One row per customer per as-of date of the build with every figure the tier rules read:
-- contribution and ABC, profit and cost to serve, loyalty, growth, credit (point in time),
-- the customer master valid that day, and each rule's condition as a boolean. The rules
-- themselves (order, caps, reason codes, hysteresis) are applied in int_customer_tiers_held
-- (hysteresis) and int_customer_tiers_ruled, the steps of customer_tier_history.
{%- set window_days = var('window_days') | int %}
{%- set recent_days = var('churn_recent_days') | int %}
{%- set credit_columns = ['open_balance'] -%}
{%- for bucket in aging_buckets() + rule_overdue_buckets() %}{% do credit_columns.append(bucket.name) %}{% endfor %}

with

contributions as (

    select * from {{ ref('int_customer_contributions_ranked') }}

),

customers as (

    select * from {{ ref('int_customers_versioned') }}

),

receivables as (

    select * from {{ ref('int_customer_receivables_aged') }}

),

joined as (

    select
        contributions.*,
        customers.customer_name,
        customers.region,
        customers.channel,
        customers.credit_limit,
        coalesce(customers.is_blocked, false) as is_blocked,
        {%- for column in credit_columns %}
        coalesce(receivables.{{ column }}, 0) as {{ column }},
        {%- endfor %}
        receivables.dso_days,
        receivables.avg_days_late,
        receivables.on_time_share,
        coalesce(receivables.worst_days_past_due, 0) as worst_days_past_due,
        {{ days_between(
            'contributions.last_order_date', 'contributions.as_of_date'
        ) }} as days_since_last_order,
        least(
            {{ window_days }},
            {{ days_between(
                'contributions.first_order_date', 'contributions.as_of_date'
            ) }} + 1
        ) - {{ recent_days }} as churn_baseline_days
    from contributions
    left join customers
        on
            contributions.customer_id = customers.customer_id
            and contributions.as_of_date between customers.valid_from_date and customers.valid_to_date
    left join receivables
        on
            contributions.customer_id = receivables.customer_id
            and contributions.as_of_date = receivables.as_of_date

),

measured as (

    select
        *,
        {{ safe_divide('customer_profit', 'case when revenue > 0 then revenue end') }} as customer_profit_rate,
        {{ safe_divide('rebate_cost', 'case when revenue > 0 then revenue end') }} as rebate_rate,
        {{ safe_divide('deep_discount_list_value', 'list_value') }} as deep_discount_share,
        {{ growth_rate('mom_current_amount', 'mom_previous_amount') }} as mom_growth,
        {{ growth_rate('yoy_current_amount', 'yoy_previous_amount') }} as yoy_growth,
        {{ credit_utilisation('open_balance', 'credit_limit') }} as credit_utilisation,
        case
            when churn_baseline_days >= {{ var('churn_min_baseline_days') }}
                then {{ safe_divide('revenue - recent_revenue', 'churn_baseline_days') }} * {{ recent_days }}
        end as churn_baseline_revenue
    from joined

),

conditions as (

    select
        *,
        active_months < {{ var('one_off_min_active_months') }} as is_one_off_buyer,
        coalesce(
            revenue > 0
            and revenue_rank <= greatest(1, customers_with_sales * {{ var('chicken_rib_top_revenue_share') }})
            and customer_profit_rate < {{ var('chicken_rib_max_profit_rate') }},
            false
        ) as is_chicken_rib,
        coalesce(
            list_value > 0
            and order_count >= {{ var('price_chaser_min_orders') }}
            and deep_discount_share >= {{ var('price_chaser_min_volume_share') }},
            false
        ) as is_price_chaser,
        {{ has_serious_overdue() }} as has_serious_overdue,
        {{ has_chronic_overdue() }} as has_chronic_overdue,
        customer_profit < 0 as has_negative_customer_profit,
        coalesce(rebate_rate > {{ var('rebate_rate_ceiling') }}, false) as is_rebate_rate_high,
        coalesce(credit_utilisation >= {{ var('credit_utilisation_warning') }}, false) as is_credit_limit_warning,
        coalesce(
            order_count >= {{ var('churn_min_baseline_orders') }}
            and churn_baseline_revenue > 0
            and recent_revenue < churn_baseline_revenue * {{ var('churn_drop_ratio') }},
            false
        ) as is_churn_drop,
        coalesce(
            order_count >= {{ var('churn_min_baseline_orders') }}
            and days_since_last_order >= {{ var('churn_min_silence_days') }}
            and days_since_last_order > median_order_interval_days * {{ var('churn_silence_factor') }},
            false
        ) as is_churn_silent
    from measured

),

final as (

    select * from conditions

)

select * from final
