-- Promotions and demotions: one row per customer per as-of date on which its final tier
-- differs from its tier the day before. Transitions are between consecutive daily
-- evaluations; a customer entering or leaving customer_tier_history (a first sale, cost
-- or open balance, or none left) is not a transition. History-like: each build replaces its as-of
-- dates and reads the day before the range from customer_tier_history.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_as_of_range() }}"
    )
}}

with

history as (

    select * from {{ ref('customer_tier_history') }}

),

evaluations as (

    select
        as_of_date,
        customer_id,
        tier,
        abc_tier,
        reason_codes
    from history
    where as_of_date between {{ add_days(history_start_date(), -1) }} and {{ as_of_date() }}

),

sequenced as (

    select
        *,
        lag(as_of_date) over (partition by customer_id order by as_of_date) as previous_as_of_date,
        lag(tier) over (partition by customer_id order by as_of_date) as previous_tier,
        lag(abc_tier) over (partition by customer_id order by as_of_date) as previous_abc_tier
    from evaluations

),

final as (

    select
        as_of_date,
        customer_id,
        previous_tier as from_tier,
        tier as to_tier,
        case
            when {{ tier_rank('tier') }} < {{ tier_rank('previous_tier') }} then 'promotion'
            else 'demotion'
        end as transition_type,
        previous_abc_tier as from_abc_tier,
        abc_tier as to_abc_tier,
        reason_codes
    from sequenced
    where
        as_of_date >= {{ history_start_date() }}
        and previous_as_of_date = {{ add_days('as_of_date', -1) }}
        and tier <> previous_tier

)

select * from final
