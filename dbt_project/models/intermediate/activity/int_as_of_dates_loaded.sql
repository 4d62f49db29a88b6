-- The as-of dates a build evaluates: every business day in history_start_date..as_of_date
-- for which a fact table was loaded (a delivered empty day counts). Days never loaded get
-- no history rows, so processing days out of order (an old day after a newer one, a
-- backfill beside the daily schedule) leaves the same history as running them in order.
with

ledger as (

    select * from {{ source('ledger', '_batches') }}

),

final as (

    select distinct cast(business_date as date) as as_of_date
    from ledger
    where
        table_name in ('sales_lines', 'cost_to_serve', 'ar_invoices', 'ar_payments')
        and business_date between {{ history_start_date() }} and {{ as_of_date() }}

)

select * from final
