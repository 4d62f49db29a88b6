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
--   outlook develop_candidate a loyal, growing B or C customer to develop (int_customer_tier_outlooks_projected)
--           tier_at_risk    an A or B customer whose recent run rate projects a lower tier
-- The outlook alerts also carry projected_tier, run_rate_contribution and tier_shortfall
-- (null on the other alert types).
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
    {'type': 'develop_candidate', 'category': 'outlook', 'condition': 'is_develop_candidate', 'is_outlook': true,
     'metric': 'yoy_growth', 'threshold': var('develop_min_yoy_growth'),
     'detail': "tier || ' customer active ' || cast(active_months as " ~ dbt.type_string() ~ ") || ' months'"
        ~ " || ', yoy growth ' || " ~ rounded_text('yoy_growth', 3)
        ~ " || ' (' || cast(tier_customers_growing_faster as " ~ dbt.type_string() ~ ") || ' of '"
        ~ " || cast(tier_customers_with_growth as " ~ dbt.type_string() ~ ") || ' customers of its tier grow faster)'"
        ~ " || ', mom growth ' || " ~ rounded_text('mom_growth', 3)
        ~ " || ', on-time share ' || coalesce(" ~ rounded_text('on_time_share', 3) ~ ", 'none due')"
        ~ " || ', profit rate ' || " ~ rounded_text('customer_profit_rate', 3)
        ~ " || ' vs tier median ' || " ~ rounded_text('tier_median_profit_rate', 3)
        ~ " || '; run rate projects ' || projected_tier"},
    {'type': 'tier_at_risk', 'category': 'outlook', 'condition': 'is_tier_at_risk', 'is_outlook': true,
     'metric': 'run_rate_contribution', 'threshold': 'tier_cut_point',
     'detail': "'run rate (last " ~ var('outlook_run_rate_days') ~ " days x " ~ var('window_days') ~ "/" ~ var('outlook_run_rate_days') ~ ") '"
        ~ " || cast(" ~ double_to_money('run_rate_contribution') ~ " as " ~ dbt.type_string() ~ ") || ' below the ' || tier || ' cut point '"
        ~ " || cast(cast(tier_cut_point as " ~ type_money() ~ ") as " ~ dbt.type_string() ~ ") || '; projects ' || projected_tier"},
] %}

with

history as (

    select * from {{ ref('customer_tier_history') }}
    where as_of_date between {{ history_start_date() }} and {{ as_of_date() }}

),

outlooks as (

    select * from {{ ref('int_customer_tier_outlooks_projected') }}

),

evaluated as (

    select
        history.*,
        outlooks.run_rate_contribution,
        outlooks.projected_tier,
        outlooks.tier_cut_point,
        outlooks.tier_shortfall,
        outlooks.tier_customers_growing_faster,
        outlooks.tier_customers_with_growth,
        outlooks.tier_median_profit_rate,
        outlooks.is_develop_candidate,
        outlooks.is_tier_at_risk
    from history
    inner join outlooks
        on
            history.customer_id = outlooks.customer_id
            and history.as_of_date = outlooks.as_of_date

),

alerts as (

    {%- for alert in alerts %}

    select
        as_of_date,
        customer_id,
        '{{ alert.type }}' as alert_type,
        '{{ alert.category }}' as alert_category,
        tier,
        cast({{ alert.metric }} as {{ type_double() }}) as metric_value,
        cast({{ alert.threshold }} as {{ type_double() }}) as threshold_value,
        {{ alert.detail }} as alert_detail,
        {%- if alert.is_outlook %}
        projected_tier,
        run_rate_contribution,
        tier_shortfall
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as projected_tier,
        cast(null as {{ type_double() }}) as run_rate_contribution,
        cast(null as {{ type_double() }}) as tier_shortfall
        {%- endif %}
    from evaluated
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
        cast(alert_detail as {{ dbt.type_string() }}) as alert_detail,
        projected_tier,
        run_rate_contribution,
        tier_shortfall
    from alerts

)

select * from final
