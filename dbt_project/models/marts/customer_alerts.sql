-- Customers to act on: one row per customer, alert type and as-of date on which the alert
-- holds (BI shows `where as_of_date = <latest>`; the first as_of_date of a run of rows is
-- when it was raised). Derived from customer_tier_history, so every alert is as of its date.
--   churn   churn_drop      revenue of the last churn_recent_days far below the customer's own baseline
--           churn_silence   silent for longer than churn_silence_factor x its median interval between orders
--   credit  credit_overdue  serious overdue debt (the credit_overdue_cap rule's condition)
--           credit_limit    open balance at or above credit_utilisation_warning of the credit limit
--   drop    drop_candidate  chronic 90+ overdue debt or blocklisted
--   price   price_chaser    most volume bought at deep discount
--   profit  chicken_rib     big by revenue, little profit
--           high_rebate_rate rebates / net sales above rebate_rate_ceiling
-- The company-wide monthly baseline (transacting customers, average order value) is the
-- separate mart customer_activity_monthly.
{%- set alerts = [
    {'type': 'churn_drop', 'category': 'churn', 'condition': 'is_churn_drop',
     'metric': safe_divide('recent_revenue', 'churn_baseline_revenue'), 'threshold': var('churn_drop_ratio'),
     'detail': "'revenue of the last " ~ var('churn_recent_days') ~ " days below " ~ var('churn_drop_ratio') ~ " of own baseline'"},
    {'type': 'churn_silence', 'category': 'churn', 'condition': 'is_churn_silent',
     'metric': 'days_since_last_order', 'threshold': 'median_order_interval_days * ' ~ var('churn_silence_factor'),
     'detail': "'no order for longer than " ~ var('churn_silence_factor') ~ " x the usual interval'"},
    {'type': 'credit_overdue', 'category': 'credit', 'condition': 'has_serious_overdue',
     'metric': 'serious_overdue_balance', 'threshold': var('credit_cap_min_amount'),
     'detail': "'balance more than " ~ var('credit_cap_days_past_due') ~ " days past due'"},
    {'type': 'credit_limit', 'category': 'credit', 'condition': 'is_credit_limit_warning',
     'metric': 'credit_utilisation', 'threshold': var('credit_utilisation_warning'),
     'detail': "'open balance near or above the credit limit'"},
    {'type': 'drop_candidate', 'category': 'drop', 'condition': 'is_drop_candidate',
     'metric': 'chronic_overdue_balance', 'threshold': var('credit_drop_min_amount'),
     'detail': "case when is_blocked then 'blocklisted' else 'balance more than " ~ var('credit_drop_days_past_due') ~ " days past due' end"},
    {'type': 'price_chaser', 'category': 'price', 'condition': 'is_price_chaser',
     'metric': 'deep_discount_share', 'threshold': var('price_chaser_min_volume_share'),
     'detail': "'most volume bought at deep discount'"},
    {'type': 'chicken_rib', 'category': 'profit', 'condition': 'is_chicken_rib',
     'metric': 'customer_profit_rate', 'threshold': var('chicken_rib_max_profit_rate'),
     'detail': "'top revenue, customer profit rate below threshold'"},
    {'type': 'high_rebate_rate', 'category': 'profit', 'condition': 'is_rebate_rate_high',
     'metric': 'rebate_rate', 'threshold': var('rebate_rate_ceiling'),
     'detail': "'rebates above the ceiling share of net sales'"},
] %}

with

history as (

    select * from {{ ref('customer_tier_history') }}
    where as_of_date between {{ history_start_date() }} and {{ as_of_date() }}

),

alerts as (

    {%- for alert in alerts %}

    select
        as_of_date,
        customer_id,
        '{{ alert.type }}' as alert_type,
        '{{ alert.category }}' as alert_category,
        tier,
        cast({{ alert.metric }} as double) as metric_value,
        cast({{ alert.threshold }} as double) as threshold_value,
        {{ alert.detail }} as alert_detail
    from history
    where {{ alert.condition }}
    {{ "union all" if not loop.last }}
    {%- endfor %}

),

final as (

    select
        as_of_date,
        customer_id,
        alert_type,
        alert_category,
        tier,
        metric_value,
        threshold_value,
        cast(alert_detail as varchar) as alert_detail
    from alerts

)

select * from final
