-- What each customer gets, as of the build's as-of date: its tier and VIP level joined to
-- the service policy the business edits (seed tier_service_policy: sample budget, training
-- and visit cadence per tier, per VIP level inside A), and the outlook a sales rep filters
-- on: a customer to develop, a customer whose tier is at risk, and its projected tier
-- (int_customer_tier_outlooks_projected).
with

tiers as (

    select * from {{ ref('customer_tiers') }}

),

policy as (

    -- vip_level is empty for B, C and D (null, also on Spark: macros/cross_db/seeds.sql).
    select
        tier,
        {{ seed_text('vip_level') }} as vip_level,
        yearly_sample_budget,
        training_cadence,
        trainings_per_year,
        visit_cadence,
        visits_per_year
    from {{ ref('tier_service_policy') }}

),

outlooks as (

    select * from {{ ref('int_customer_tier_outlooks_projected') }}

),

final as (

    select
        tiers.as_of_date,
        tiers.customer_id,
        tiers.customer_name,
        tiers.region,
        tiers.channel,
        tiers.tier,
        tiers.vip_level,
        tiers.reason_codes,
        cast(policy.yearly_sample_budget as {{ type_money() }}) as yearly_sample_budget,
        cast(tiers.samples_cost as {{ type_money() }}) as samples_cost_in_window,
        cast(policy.training_cadence as {{ dbt.type_string() }}) as training_cadence,
        cast(policy.trainings_per_year as integer) as trainings_per_year,
        cast(policy.visit_cadence as {{ dbt.type_string() }}) as visit_cadence,
        cast(policy.visits_per_year as integer) as visits_per_year,
        outlooks.is_develop_candidate,
        outlooks.is_tier_at_risk,
        outlooks.projected_tier
    from tiers
    left join policy
        on
            tiers.tier = policy.tier
            and coalesce(tiers.vip_level, '') = coalesce(policy.vip_level, '')
    left join outlooks
        on
            tiers.customer_id = outlooks.customer_id
            and tiers.as_of_date = outlooks.as_of_date

)

select * from final
