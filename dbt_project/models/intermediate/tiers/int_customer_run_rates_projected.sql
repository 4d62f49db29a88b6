-- The tier each customer's recent run rate reaches, per customer per as-of date of
-- customer_tier_history (DOMAIN.md §1 "tiers move"), and the condition of the tier_at_risk
-- alert; int_customer_tier_outlooks_projected adds the develop_candidate conditions.
--   run_rate_contribution  recent_contribution (the basis over the last outlook_run_rate_days
--                          days) x window_days / outlook_run_rate_days: annualised
--   projected_tier         against the as-of date's cut points, the smallest contribution that
--                          is ABC A (a_cut_point) and ABC B (b_cut_point) that day: A at or
--                          above the A cut point, B at or above the B one, C above zero, else D
--   is_tier_at_risk        final tier A or B and projected tier below it (the 365-day tier has
--                          not fallen yet; the run rate says it will)
-- Cut points are per as-of date over that date's rows, so no date sees another. The
-- history columns the develop conditions read pass through. A view (dbt_project.yml): its
-- one reader, int_customer_tier_outlooks_projected, is a table.
{%- set window_days = var('window_days') | int %}
{%- set run_rate_days = var('outlook_run_rate_days') | int %}

with

history as (

    select * from {{ ref('customer_tier_history') }}

),

cut_points as (

    select
        as_of_date,
        -- money, typed: on Postgres min() of a money column has no scale (nor a case over two)
        cast(min(case when abc_tier = 'A' then contribution end) as {{ type_money() }}) as a_cut_point,
        cast(min(case when abc_tier = 'B' then contribution end) as {{ type_money() }}) as b_cut_point
    from history
    group by as_of_date

),

run_rates as (

    select
        history.*,
        cut_points.a_cut_point,
        cut_points.b_cut_point,
        cast(history.recent_contribution as {{ type_double() }}) * {{ window_days }} / {{ run_rate_days }}
            as run_rate_contribution
    from history
    inner join cut_points on history.as_of_date = cut_points.as_of_date

),

projected as (

    select
        *,
        case
            when run_rate_contribution >= a_cut_point then 'A'
            when run_rate_contribution >= b_cut_point then 'B'
            when run_rate_contribution > 0 then 'C'
            else 'D'
        end as projected_tier,
        cast(case tier when 'A' then a_cut_point when 'B' then b_cut_point end as {{ type_money() }})
            as tier_cut_point
    from run_rates

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
        case
            when tier in ('A', 'B')
                then cast(greatest(tier_cut_point - run_rate_contribution, 0) as {{ type_double() }})
        end as tier_shortfall,
        tier in ('A', 'B') and {{ tier_rank('projected_tier') }} > {{ tier_rank('tier') }} as is_tier_at_risk,
        active_months,
        yoy_growth,
        mom_growth,
        on_time_share,
        customer_profit_rate,
        is_chicken_rib,
        is_price_chaser,
        has_serious_overdue,
        is_credit_limit_warning
    from projected

)

select * from final
