-- Every receivable invoice issued up to the as-of date with the day it was fully paid
-- (payments up to the as-of date, in date order, reach the invoiced amount) and how late
-- that was. An invoice settled after an as-of date D is still open as of D: models compare
-- settled_date with D, never assume it.
with

invoices as (

    select * from {{ ref('stg_erp__ar_invoices') }}

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
    where payments.payment_date <= {{ as_of_date() }}

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
        cast(coalesce(settlements.paid_amount, 0) as decimal(18, 2)) as paid_amount,
        settlements.settled_date,
        settlements.last_payment_date,
        cast(
            case
                when settlements.settled_date > invoices.due_date
                    then {{ days_between('invoices.due_date', 'settlements.settled_date') }}
                when settlements.settled_date is not null then 0
            end as integer
        ) as days_late,
        coalesce(settlements.settled_date <= invoices.due_date, false) as is_paid_on_time
    from invoices
    left join settlements on invoices.invoice_id = settlements.invoice_id
    where invoices.invoice_date <= {{ as_of_date() }}

)

select * from final
