-- Hysteresis, rule 1 of the tier (customer_tier_history.sql lists the rules): per customer
-- per as-of date of the build, int_customer_profiles_joined with held_abc_tier, the ABC tier
-- after hysteresis. A demotion of the ABC tier waits until hysteresis_evaluations
-- consecutive daily evaluations were below the current tier (the tier held is the best ABC
-- tier of those days); a promotion is immediate. With hysteresis off (1, the default)
-- held_abc_tier is abc_tier.
--
-- The ABC tiers of the days before history_start_date come from the published
-- customer_tier_history (only the hysteresis_evaluations - 1 days before it: a daily build
-- reads that many days of history), those of the range from a window over the build's
-- rows, so a range build equals the daily builds of that range.
-- Ephemeral (dbt_project.yml): compiled into int_customer_tiers_ruled and so into the
-- history mart. A view reading the published table would pin it on Postgres, where
-- publishing with --full-refresh drops and recreates it.
{%- set hysteresis = var('hysteresis_evaluations') | int %}
{%- if hysteresis < 1 %}
    {{ exceptions.raise_compiler_error("var hysteresis_evaluations must be 1 (off) or more, not " ~ hysteresis) }}
{%- endif %}

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

final as (

    select
        profiles.*,
        {{ tier_from_rank('least(held_tiers.held_rank, ' ~ tier_rank('profiles.abc_tier') ~ ')') }} as held_abc_tier
    from profiles
    inner join held_tiers
        on
            profiles.customer_id = held_tiers.customer_id
            and profiles.as_of_date = held_tiers.as_of_date

)

{%- else %}

final as (

    select
        *,
        abc_tier as held_abc_tier
    from profiles

)

{%- endif %}

select * from final
