-- Promotions and demotions: one row per customer per as-of date on which its final tier
-- differs from its tier the day before. Transitions are between consecutive daily
-- evaluations; a customer entering or leaving customer_tier_history (a first sale, cost
-- or open balance, or none left) is not a transition. History mart: a build holds its as-of
-- dates and reads the day before its range from the published customer_tier_history.
{%- set evaluated = ['as_of_date', 'customer_id', 'tier', 'abc_tier', 'reason_codes'] %}

with

history as (

    select * from {{ ref('customer_tier_history') }}

),

published_history as (

    {%- if published_exists('customer_tier_history') %}
    select * from {{ source('published', 'customer_tier_history') }}
    where as_of_date = {{ add_days(history_start_date(), -1) }}
    {%- else %}
    select * from history
    where 1 = 0
    {%- endif %}

),

evaluations as (

    select {{ evaluated | join(', ') }} from history
    union all
    select {{ evaluated | join(', ') }} from published_history

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
