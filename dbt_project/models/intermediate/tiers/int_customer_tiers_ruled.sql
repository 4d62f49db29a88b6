-- The final tier, its reason codes and VIP level, per customer per as-of date of the build:
-- rules 2-9 of customer_tier_history.sql (which documents every rule, its order and its
-- reason code) applied to int_customer_tiers_held, whose held_abc_tier is the tier after
-- rules 0 (ABC) and 1 (hysteresis). Each rule can only keep or lower the tier; reason_codes
-- lists the codes of rules 0-2, 5 and 7 that moved the tier, of the drop rules 6 and 8
-- whenever they hold and of the flags 3, 4 and 9 whenever raised. VIP levels split the
-- final A tier.
-- Ephemeral (dbt_project.yml): compiled into customer_tier_history, as
-- int_customer_tiers_held (which reads the published table) is compiled into it.
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

held as (

    select * from {{ ref('int_customer_tiers_held') }}

),

-- rank_1: the tier after rules 0 and 1 (ABC, hysteresis), as a rank (A = 1 .. D = 4).
ranked as (

    select
        *,
        {{ tier_rank('abc_tier') }} as abc_rank,
        {{ tier_rank('held_abc_tier') }} as rank_1
    from held

),

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
    from ranked

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
-- customer takes the level where its own share starts, like the ABC cut. Ranked on the A
-- rows' keys alone and joined back: a window over every figure of every row sorted them
-- all (the slowest step of a backfill's tier history).
a_ranked as (

    select
        as_of_date,
        customer_id,
        sum(case when contribution > 0 then contribution else 0 end)
            over (partition by as_of_date) as a_total_contribution,
        coalesce(sum(case when contribution > 0 then contribution else 0 end) over (
            partition by as_of_date
            order by contribution desc, customer_id asc
            rows between unbounded preceding and 1 preceding
        ), 0) as a_contribution_before
    from coded
    where tier = 'A'

),

final as (

    select
        coded.*,
        a_ranked.a_total_contribution,
        a_ranked.a_contribution_before,
        case
            when a_ranked.customer_id is null then null
            when a_ranked.a_contribution_before < a_ranked.a_total_contribution * {{ var('vip_diamond_share') }}
                then 'diamond'
            when a_ranked.a_contribution_before < a_ranked.a_total_contribution * {{ var('vip_gold_share') }}
                then 'gold'
            else 'silver'
        end as vip_level
    from coded
    left join a_ranked
        on
            coded.customer_id = a_ranked.customer_id
            and coded.as_of_date = a_ranked.as_of_date

)

select * from final
