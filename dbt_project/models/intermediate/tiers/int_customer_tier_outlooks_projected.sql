-- Where each customer is heading, per customer per as-of date of the build (DOMAIN.md §1
-- "tiers move", §4 growth): the two outlook alerts of customer_alerts (vars under "4b.
-- Outlook" in dbt_project.yml). int_customer_run_rates_projected places the recent run rate
-- against the day's cut points (projected_tier, is_tier_at_risk); this model adds the
-- develop_candidate conditions:
--   is_develop_candidate   final tier B or C, active in most months, growing year over year and
--                          month over month, yoy growth in the top share of its tier that day,
--                          paying on time, profit rate not below its tier's median that day,
--                          and no chicken_rib, price_chaser, credit_overdue or credit_limit flag
-- Peers and medians are per as-of date over that date's rows, so one build computes every
-- date at once and no date sees another (or later data).

with

projected as (

    select * from {{ ref('int_customer_run_rates_projected') }}

),

-- Peers: the customers of the same final tier on the same as-of date. The median is an
-- aggregate joined back, since not every adapter has it as a window function.
tier_medians as (

    select
        as_of_date,
        tier,
        {{ median('customer_profit_rate') }} as tier_median_profit_rate
    from projected
    group by as_of_date, tier

),

peers_compared as (

    select
        projected.*,
        tier_medians.tier_median_profit_rate,
        case
            when projected.yoy_growth is not null
                then rank() over (
                    partition by projected.as_of_date, projected.tier order by projected.yoy_growth desc nulls last
                ) - 1
        end as tier_customers_growing_faster,
        count(projected.yoy_growth) over (
            partition by projected.as_of_date, projected.tier
        ) as tier_customers_with_growth
    from projected
    inner join tier_medians
        on
            projected.as_of_date = tier_medians.as_of_date
            and projected.tier = tier_medians.tier

),

conditions as (

    select
        *,
        coalesce(active_months >= {{ var('develop_min_active_months') }}, false) as is_buying_most_months,
        coalesce(yoy_growth >= {{ var('develop_min_yoy_growth') }}, false) as is_growing_yoy,
        coalesce(mom_growth >= {{ var('develop_min_mom_growth') }}, false) as is_growing_mom,
        coalesce(
            tier_customers_growing_faster < tier_customers_with_growth * {{ var('develop_growth_top_share') }},
            false
        ) as is_growing_faster_than_tier,
        coalesce(on_time_share, 1) >= {{ var('develop_min_on_time_share') }} as is_paying_on_time,
        coalesce(customer_profit_rate >= tier_median_profit_rate, false) as is_profit_rate_at_tier_median,
        coalesce(is_chicken_rib or is_price_chaser or has_serious_overdue or is_credit_limit_warning, false)
            as has_watch_flag
    from peers_compared

),

final as (

    select
        as_of_date,
        customer_id,
        tier,
        abc_tier,
        contribution,
        recent_contribution,
        run_rate_contribution,
        a_cut_point,
        b_cut_point,
        projected_tier,
        tier_cut_point,
        tier_shortfall,
        active_months,
        yoy_growth,
        mom_growth,
        cast(tier_customers_growing_faster as bigint) as tier_customers_growing_faster,
        cast(tier_customers_with_growth as bigint) as tier_customers_with_growth,
        on_time_share,
        customer_profit_rate,
        cast(tier_median_profit_rate as {{ type_double() }}) as tier_median_profit_rate,
        is_buying_most_months,
        is_growing_yoy,
        is_growing_mom,
        is_growing_faster_than_tier,
        is_paying_on_time,
        is_profit_rate_at_tier_median,
        has_watch_flag,
        is_tier_at_risk,
        tier in ('B', 'C')
        and is_buying_most_months
        and is_growing_yoy
        and is_growing_mom
        and is_growing_faster_than_tier
        and is_paying_on_time
        and is_profit_rate_at_tier_median
        and not has_watch_flag as is_develop_candidate
    from conditions

)

select * from final
