-- Every receivable invoice loaded, with the day its payments (every payment loaded, in
-- date order) reached the invoiced amount and how late that was. Not cut at the as-of
-- date: like the day layers, this is a function of the raw tables alone, so it can be
-- kept incrementally; int_customer_receivables_aged reads it point in time (an invoice
-- settled after an as-of date D is still open as of D, and a payment after D is not
-- counted on D).
--
-- Incremental: a build recomputes the invoices a changed raw partition can touch (every
-- loaded partition since the last publish is on or after history_start_date): those
-- issued from then on, and those with a payment dated from then on, before or after the
-- change (a deleted payment leaves its invoice's last_payment_date behind). It reads only
-- those (macros/receivables.sql), not every invoice loaded, and replaces them by
-- invoice_id; the pre-hook first deletes the ones issued from then on, so an invoice
-- withdrawn from a corrected day leaves.
{{ config(
    pre_hook="{{ delete_recomputed_invoices() }}",
    incremental_strategy="delete+insert",
    unique_key="invoice_id",
) }}

with

loaded_invoices as (

    select * from {{ ref('stg_erp__ar_invoices') }}

),

invoices as (

    select * from loaded_invoices
    {%- if is_incremental() %}
    where {{ is_recomputed_invoice('invoice_id', 'invoice_date') }}
    {%- endif %}

),

payments as (

    select * from {{ ref('stg_erp__ar_payments') }}

),

invoice_payments as (

    select
        invoices.invoice_id,
        invoices.invoice_amount,
        payments.payment_date,
        sum(payments.payment_amount) over (
            partition by invoices.invoice_id
            order by payments.payment_date, payments.payment_id
            rows between unbounded preceding and current row
        ) as paid_to_date
    from invoices
    inner join payments on invoices.invoice_id = payments.invoice_id

),

settlements as (

    select
        invoice_id,
        min(case when paid_to_date >= invoice_amount then payment_date end) as settled_date,
        max(paid_to_date) as paid_amount,
        max(payment_date) as last_payment_date
    from invoice_payments
    group by invoice_id

),

final as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        invoices.invoice_date,
        invoices.due_date,
        invoices.invoice_amount,
        cast(coalesce(settlements.paid_amount, 0) as {{ type_money() }}) as paid_amount,
        settlements.settled_date,
        settlements.last_payment_date,
        cast(
            case
                when settlements.settled_date > invoices.due_date
                    then {{ days_between('invoices.due_date', 'settlements.settled_date') }}
                when settlements.settled_date is not null then 0
            end as integer
        ) as days_late,
        coalesce(settlements.settled_date <= invoices.due_date, false) as is_paid_on_time,
        {{ invoice_live_until_date(
            'invoices.invoice_date', 'invoices.due_date', 'settlements.settled_date',
            'settlements.last_payment_date', 'coalesce(settlements.paid_amount, 0)', 'invoices.invoice_amount'
        ) }} as live_until_date
    from invoices
    left join settlements on invoices.invoice_id = settlements.invoice_id

)

select * from final
