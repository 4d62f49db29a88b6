-- Rank customers by contribution per as-of date and cut A/B/C (DOMAIN.md §1).
-- A customer belongs to the tier where its own share starts: it is A while the
-- contribution of everyone ranked above it is below abc_a_cumulative_share of the total,
-- so the first customer is always A. Comparisons are on money (decimal), not on float
-- shares, so a customer starting exactly at the 80% boundary is B, never a rounding
-- accident. The count cut rounds the same way: A while the customers ranked above are
-- fewer than abc_a_customer_share of the contributing customers (312 x 0.20 = 62.4, so
-- ranks 1-63 are A).
-- Only contributing customers (positive contribution and a sales line in the window)
-- take a share and are cut. Everyone else is D: zero or negative contribution, or no
-- sales at all (a debtor, a customer that only cost money; a cost reversal can leave such
-- a customer with a positive customer profit, still no share). They rank after every
-- contributing customer and neither cut counts them, so they never move the others' cut.
-- The window figures (profit, loyalty, growth) pass through unchanged; revenue_rank ranks
-- revenue whatever the basis among the customers with a sales line in the window (the
-- chicken-rib rule compares it with profit); null for a customer without sales.
{%- set cut_method = abc_cut_method() %}
{%- set a_customer_share = var('abc_a_customer_share') %}
{%- set b_customer_share = var('abc_b_customer_share') %}
{%- set passed_through = profit_columns() + [
    'order_count', 'line_count', 'has_sales_in_window',
    'list_value', 'deep_discount_list_value', 'active_months', 'first_order_date',
    'last_order_date', 'median_order_interval_days', 'recent_revenue', 'mom_current_amount',
    'mom_previous_amount', 'yoy_current_amount', 'yoy_previous_amount', 'recent_contribution',
] %}

with

windows as (

    select * from {{ ref('int_customer_windows_aggregated') }}

),

contributions as (

    select
        *,
        {{ tier_basis_column() }} as contribution,
        has_sales_in_window and {{ tier_basis_column() }} > 0 as is_contributing
    from windows

),

{#- Spark takes no frame added to a named window: the order is spelled out in both. -#}
{%- set contribution_order -%}
    partition by as_of_date
    order by case when is_contributing then 0 else 1 end asc, contribution desc, customer_id asc
{%- endset %}

ranked as (

    select
        *,
        -- bigint on every adapter (Spark's row_number() is an int).
        cast(row_number() over ({{ contribution_order }}) as bigint) as contribution_rank,
        case
            when has_sales_in_window
                then row_number() over (
                    partition by as_of_date, has_sales_in_window order by revenue desc, customer_id asc
                )
        end as revenue_rank,
        count(case when has_sales_in_window then 1 end)
            over (partition by as_of_date) as customers_with_sales,
        sum(case when is_contributing then contribution else 0 end)
            over (partition by as_of_date) as total_contribution,
        sum(case when is_contributing then 1 else 0 end)
            over (partition by as_of_date) as contributing_customers,
        coalesce(sum(contribution) over (
            {{ contribution_order }}
            rows between unbounded preceding and 1 preceding
        ), 0) as contribution_before
    from contributions

),

cut as (

    select
        *,
        case
            when not is_contributing then 'D'
            when contribution_before < total_contribution * {{ var('abc_a_cumulative_share') }} then 'A'
            when contribution_before < total_contribution * {{ var('abc_b_cumulative_share') }} then 'B'
            else 'C'
        end as share_cut_tier,
        case
            when not is_contributing then 'D'
            when contribution_rank - 1 < contributing_customers * {{ a_customer_share }} then 'A'
            when contribution_rank - 1 < contributing_customers * ({{ a_customer_share }} + {{ b_customer_share }})
                then 'B'
            else 'C'
        end as count_cut_tier
    from ranked

),

final as (

    select
        customer_id,
        as_of_date,
        '{{ var("tier_basis") }}' as basis,
        '{{ cut_method }}' as cut_method,
        {%- for column in passed_through %}
        {{ column }},
        {%- endfor %}
        cast(contribution as {{ type_money() }}) as contribution,
        is_contributing,
        contribution_rank,
        -- `share` is the published column name and an unreserved keyword (FOR SHARE) in
        -- DuckDB and sqlfluff, valid as an alias. RF04 flags it; quoting it instead trades
        -- RF04 for RF06 (unnecessary quotes), so the alias keeps a per-line noqa.
        case
            when is_contributing then {{ safe_divide('contribution', 'total_contribution') }}
            else 0
        end as share,  -- noqa: RF04
        case
            when is_contributing
                then {{ safe_divide('contribution_before + contribution', 'total_contribution') }}
        end as cumulative_share,
        share_cut_tier,
        count_cut_tier,
        revenue_rank,
        customers_with_sales,
        {% if cut_method == 'cumulative_share' %}share_cut_tier{% else %}count_cut_tier{% endif %} as abc_tier
    from cut

)

select * from final
