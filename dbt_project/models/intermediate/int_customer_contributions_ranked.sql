-- Rank customers by contribution per as-of date and cut A/B/C (DOMAIN.md §1).
-- A customer belongs to the tier where its own share starts: it is A while the
-- contribution of everyone ranked above it is below abc_a_cumulative_share of the total,
-- so the first customer is always A. Comparisons are on money (decimal), not on float
-- shares, so a customer starting exactly at the 80% boundary is B, never a rounding
-- accident. Customers with zero or negative contribution take no share and are D.
-- The window figures (profit, loyalty, growth) pass through unchanged; revenue_rank ranks
-- revenue whatever the basis (the chicken-rib rule compares it with profit).
{%- set cut_method = abc_cut_method() %}
{%- set passed_through = ['revenue', 'cogs', 'gross_profit'] -%}
{%- for kind in cost_kinds() %}{% do passed_through.append(kind ~ '_cost') %}{% endfor -%}
{%- do passed_through.extend([
    'cost_to_serve', 'customer_profit', 'order_count', 'line_count', 'list_value',
    'deep_discount_list_value', 'active_months', 'first_order_date', 'last_order_date',
    'median_order_interval_days', 'recent_revenue', 'mom_current_amount',
    'mom_previous_amount', 'yoy_current_amount', 'yoy_previous_amount',
]) %}

with

windows as (

    select * from {{ ref('int_customer_windows_aggregated') }}

),

contributions as (

    select
        *,
        {{ tier_basis_column() }} as contribution
    from windows

),

ranked as (

    select
        *,
        row_number() over (
            partition by as_of_date order by contribution desc, customer_id
        ) as contribution_rank,
        row_number() over (
            partition by as_of_date order by revenue desc, customer_id
        ) as revenue_rank,
        count(*) over (partition by as_of_date) as ranked_customers,
        sum(case when contribution > 0 then contribution else 0 end)
            over (partition by as_of_date) as total_contribution,
        sum(case when contribution > 0 then 1 else 0 end)
            over (partition by as_of_date) as contributing_customers,
        coalesce(sum(contribution) over (
            partition by as_of_date
            order by contribution desc, customer_id
            rows between unbounded preceding and 1 preceding
        ), 0) as contribution_before
    from contributions

),

cut as (

    select
        *,
        case
            when contribution <= 0 then 'D'
            when contribution_before < total_contribution * {{ var('abc_a_cumulative_share') }} then 'A'
            when contribution_before < total_contribution * {{ var('abc_b_cumulative_share') }} then 'B'
            else 'C'
        end as share_cut_tier,
        case
            when contribution <= 0 then 'D'
            when contribution_rank - 1 < contributing_customers * {{ var('abc_a_customer_share') }} then 'A'
            when contribution_rank - 1
                < contributing_customers
                * ({{ var('abc_a_customer_share') }} + {{ var('abc_b_customer_share') }})
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
        cast(contribution as decimal(18, 2)) as contribution,
        contribution_rank,
        case
            when contribution > 0 then cast(contribution as double) / cast(total_contribution as double)
            else 0
        end as share,
        case
            when contribution > 0
                then cast(contribution_before + contribution as double) / cast(total_contribution as double)
        end as cumulative_share,
        share_cut_tier,
        count_cut_tier,
        revenue_rank,
        ranked_customers,
        {% if cut_method == 'cumulative_share' %}share_cut_tier{% else %}count_cut_tier{% endif %} as abc_tier
    from cut

)

select * from final
