-- reason_codes holds only the documented codes, each at most once, in rule order
-- (customer_tier_history.sql, marts/tiers/_tiers__history.yml): put the codes a row holds back
-- together in the documented order and compare. Only the build's as-of dates are read.
with

history as (

    select * from {{ ref('customer_tier_history') }}
    where
        reason_codes is not null
        and as_of_date between {{ history_start_date() }} and {{ as_of_date() }}

),

known_codes as (

    select
        codes.code_position,
        codes.code
    from (
        values
        (1, 'non_positive_contribution'),
        (2, 'no_sales_in_window'),
        (3, 'hysteresis_hold'),
        (4, 'one_off_buyer'),
        (5, 'chicken_rib'),
        (6, 'price_chaser'),
        (7, 'credit_overdue_cap'),
        (8, 'credit_drop'),
        (9, 'negative_customer_profit'),
        (10, 'blocked'),
        (11, 'high_rebate_rate')
    ) as codes (code_position, code)

),

reassembled as (

    select
        history.as_of_date,
        history.customer_id,
        history.reason_codes,
        {{ dbt.listagg('known_codes.code', "';'", 'order by known_codes.code_position') }} as documented_codes
    from history
    left join known_codes
        on ';' || history.reason_codes || ';' like '%;' || known_codes.code || ';%'
    group by history.as_of_date, history.customer_id, history.reason_codes

),

final as (

    select *
    from reassembled
    where documented_codes is null or documented_codes <> reason_codes

)

select * from final
