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
{%- set hysteresis = var('hysteresis_evaluations') | int %}
{%- if hysteresis < 1 %}
    {{ exceptions.raise_compiler_error("var hysteresis_evaluations must be 1 (off) or more, not " ~ hysteresis) }}
{%- endif %}
{%- set d_rank = tier_letters() | length %}
{#- is_coded_when_held: the code shows whenever the condition holds (flags, and the drop
    rules, which make a drop candidate even of a customer already D); otherwise only when
    the rule moved the tier. -#}
{%- set rules = [
    {'code': 'one_off_buyer', 'condition': 'is_one_off_buyer', 'max_rank': tier_var_rank('one_off_max_tier'), 'is_coded_when_held': false},
    {'code': 'chicken_rib', 'condition': 'is_chicken_rib', 'max_rank': tier_var_rank('chicken_rib_max_tier'), 'is_coded_when_held': true},
    {'code': 'price_chaser', 'condition': 'is_price_chaser', 'max_rank': tier_var_rank('price_chaser_max_tier'), 'is_coded_when_held': true},
    {'code': 'credit_overdue_cap', 'condition': 'has_serious_overdue', 'max_rank': tier_var_rank('credit_cap_max_tier'), 'is_coded_when_held': false},
    {'code': 'credit_drop', 'condition': 'has_chronic_overdue', 'max_rank': d_rank, 'is_coded_when_held': true},
    {'code': 'negative_customer_profit', 'condition': 'has_negative_customer_profit', 'max_rank': d_rank, 'is_coded_when_held': false},
    {'code': 'blocked', 'condition': 'is_blocked', 'max_rank': d_rank, 'is_coded_when_held': true},
] %}

with

profiles as (

    select * from {{ ref('int_customer_profiles_joined') }}

),

{%- if hysteresis > 1 %}

previous_evaluations as (

    {%- if published_exists('customer_tier_history') %}
    select customer_id, as_of_date, abc_tier
    from {{ source('published', 'customer_tier_history') }}
    where
        as_of_date < {{ history_start_date() }}
        and as_of_date >= {{ add_days(history_start_date(), 1 - hysteresis) }}
    {%- else %}
    select customer_id, as_of_date, abc_tier
    from profiles
    where 1 = 0
    {%- endif %}

),

evaluations as (

    select customer_id, as_of_date, abc_tier from profiles
    union all
    select customer_id, as_of_date, abc_tier from previous_evaluations

),

-- The best ABC tier of the last N days (days, not evaluations: a day without an
-- evaluation holds nothing): a demotion shows only once all N were below.
held_tiers as (

    select
        customer_id,
        as_of_date,
        min({{ tier_rank('abc_tier') }}) over (
            partition by customer_id
            order by {{ day_number('as_of_date') }}
            range between {{ hysteresis - 1 }} preceding and current row
        ) as held_rank
    from evaluations

),

held as (

    select
        profiles.*,
        {{ tier_rank('profiles.abc_tier') }} as abc_rank,
        least(held_tiers.held_rank, {{ tier_rank('profiles.abc_tier') }}) as rank_1
    from profiles
    inner join held_tiers
        on
            profiles.customer_id = held_tiers.customer_id
            and profiles.as_of_date = held_tiers.as_of_date

),

{%- else %}

held as (

    select
        *,
        {{ tier_rank('abc_tier') }} as abc_rank,
        {{ tier_rank('abc_tier') }} as rank_1
    from profiles

),

{%- endif %}

-- cap_<n>: the rank rule n caps the tier at (1, no cap, when it does not hold); rank_<n + 1>
-- the tier after rules 1..n, the worst of rank_1 and those caps (from rank_1, not from
-- rank_<n>: a column alias cannot be read in the same select on every adapter).
capped as (

    select
        *,
        {%- for rule in rules %}
        case when {{ rule.condition }} then {{ rule.max_rank }} else 1 end as cap_{{ loop.index }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from held

),

ruled as (

    select
        *,
        {%- for rule in rules %}
        {%- set caps = 'cap_' ~ range(1, loop.index + 1) | join(', cap_') %}
        greatest(rank_1, {{ caps }}) as rank_{{ loop.index + 1 }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from capped

),

{%- set final_rank = 'rank_' ~ (rules | length + 1) %}

coded as (

    select
        *,
        {{ tier_from_rank(final_rank) }} as tier,
        nullif(concat_ws(
            ';',
            case when abc_tier = 'D' and contribution <= 0 then 'non_positive_contribution' end,
            case when abc_tier = 'D' and not has_sales_in_window then 'no_sales_in_window' end,
            case when rank_1 < abc_rank then 'hysteresis_hold' end,
            {%- for rule in rules %}
            {%- if rule.is_coded_when_held %}
            case when {{ rule.condition }} then '{{ rule.code }}' end,
            {%- else %}
            case when rank_{{ loop.index + 1 }} > rank_{{ loop.index }} then '{{ rule.code }}' end,
            {%- endif %}
            {%- endfor %}
            case when is_rebate_rate_high then 'high_rebate_rate' end
        ), '') as reason_codes,
        coalesce(has_chronic_overdue, false) or coalesce(is_blocked, false) as is_drop_candidate
    from ruled

),

-- VIP levels inside the final A: by cumulative share of A's (positive) contribution, a
-- customer takes the level where its own share starts, like the ABC cut.
vip_ranked as (

    select
        *,
        sum(case when tier = 'A' and contribution > 0 then contribution else 0 end)
            over (partition by as_of_date) as a_total_contribution,
        coalesce(sum(case when tier = 'A' and contribution > 0 then contribution else 0 end) over (
            partition by as_of_date
            order by case when tier = 'A' then 0 else 1 end asc, contribution desc, customer_id asc
            rows between unbounded preceding and 1 preceding
        ), 0) as a_contribution_before
    from coded

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
        case
            when tier <> 'A' then null
            when a_contribution_before < a_total_contribution * {{ var('vip_diamond_share') }} then 'diamond'
            when a_contribution_before < a_total_contribution * {{ var('vip_gold_share') }} then 'gold'
            else 'silver'
        end as vip_level,
        {{ tier_from_rank('rank_1') }} as held_abc_tier,
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
    from vip_ranked

)

select * from final
