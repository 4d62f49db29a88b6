-- One row per customer per as-of date: "tier on date X" is `where as_of_date = X`.
-- Each build computes the loaded days in history_start_date..as_of_date (int_as_of_dates_loaded)
-- and publishing replaces exactly those dates in marts.customer_tier_history, so reruns and
-- backfills are idempotent.
--
-- Who has a row: every customer with a sales line or a cost-to-serve entry in the window,
-- or an open receivable balance, on the as-of date (int_customer_windows_aggregated). A
-- customer without sales takes no share and has null revenue_rank, customer_profit_rate
-- and rebate_rate; its money and counts are 0; its credit figures and flags are as for
-- anyone, so a debtor that stopped buying stays, D, with its credit codes and alerts.
--
-- The final tier starts from plain ABC (abc_tier) and goes through the rules in this
-- order (vars in dbt_project.yml); each step can only keep or lower the tier, except 1:
--   0 non_positive_contribution  ABC: no positive contribution on the basis -> D
--     no_sales_in_window         ABC: no sales line in the window -> D (takes no share)
--   1 hysteresis_hold            a demotion of the ABC tier waits until hysteresis_evaluations
--                                consecutive daily evaluations were below the current tier
--                                (the tier held is the best ABC tier of those days)
--   2 one_off_buyer              active in < one_off_min_active_months months -> at most one_off_max_tier
--   3 chicken_rib                top revenue rank, profit rate below the threshold -> at most chicken_rib_max_tier
--   4 price_chaser               most volume at deep discount -> at most price_chaser_max_tier
--   5 credit_overdue_cap         serious overdue debt -> at most credit_cap_max_tier
--   6 credit_drop                chronic 90+ overdue debt -> D, drop candidate
--   7 negative_customer_profit   customer profit below zero -> D
--   8 blocked                    blocklisted in the master -> D, drop candidate
--   9 high_rebate_rate           flag only
-- reason_codes lists, in that order, the codes of rules 0-2, 5 and 7 that moved the tier,
-- of the drop rules 6 and 8 whenever they hold (also on a customer already D: they make it
-- a drop candidate) and of the flags 3, 4 and 9 whenever raised. VIP levels split the
-- final A tier.
--
-- Hysteresis reads the ABC tiers of the days before history_start_date from the published
-- table and computes the days of the range with a window, so a range build equals the
-- daily builds of that range.
--
-- Computed in int_customer_tiers_held (rule 1, hysteresis) and int_customer_tiers_ruled
-- (rules 2-9, reason codes, VIP levels), both compiled into this model (ephemeral): this
-- model gives them the published shape, the contract's columns in order and types.

with

tiers as (

    select * from {{ ref('int_customer_tiers_ruled') }}

),

final as (

    select
        as_of_date,
        customer_id,
        customer_name,
        region,
        channel,
        tier,
        abc_tier,
        share_cut_tier,
        count_cut_tier,
        basis,
        cut_method,
        contribution,
        contribution_rank,
        share,
        cumulative_share,
        revenue,
        cogs,
        gross_profit,
        order_count,
        line_count,
        reason_codes,
        vip_level,
        held_abc_tier,
        cast(revenue_rank as bigint) as revenue_rank,
        {%- for kind in cost_kinds() %}
        {{ kind }}_cost,
        {%- endfor %}
        cost_to_serve,
        customer_profit,
        customer_profit_rate,
        rebate_rate,
        active_months,
        first_order_date,
        last_order_date,
        cast(days_since_last_order as integer) as days_since_last_order,
        median_order_interval_days,
        mom_growth,
        yoy_growth,
        recent_contribution,
        recent_revenue,
        cast(churn_baseline_revenue as {{ type_double() }}) as churn_baseline_revenue,
        deep_discount_share,
        credit_limit,
        open_balance,
        overdue_balance,
        days_over_90_balance,
        serious_overdue_balance,
        chronic_overdue_balance,
        dso_days,
        avg_days_late,
        on_time_share,
        worst_days_past_due,
        credit_utilisation,
        is_blocked,
        is_one_off_buyer,
        is_chicken_rib,
        is_price_chaser,
        has_serious_overdue,
        has_chronic_overdue,
        has_negative_customer_profit,
        is_rebate_rate_high,
        is_credit_limit_warning,
        is_churn_drop,
        is_churn_silent,
        is_drop_candidate
    from tiers

)

select * from final
