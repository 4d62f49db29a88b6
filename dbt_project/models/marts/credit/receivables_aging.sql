-- Receivables per customer per as-of date, point in time (an invoice paid after D is still
-- open as of D): open balance, ageing buckets by days past due, DSO, payment behaviour and
-- credit-limit utilisation. One row per customer with an open balance or invoices due,
-- settled or issued in the trailing windows. History mart: a build holds its as-of
-- dates, which publishing replaces.

with

receivables as (

    select * from {{ ref('int_customer_receivables_aged') }}

),

customers as (

    select * from {{ ref('int_customers_versioned') }}

),

final as (

    select
        receivables.as_of_date,
        receivables.customer_id,
        customers.credit_limit,
        receivables.open_balance,
        {%- for bucket in aging_buckets() %}
        receivables.{{ bucket.name }},
        {%- endfor %}
        receivables.overdue_balance,
        receivables.dso_days,
        receivables.dso_invoiced_amount,
        receivables.avg_days_late,
        receivables.settled_invoice_count,
        receivables.on_time_share,
        receivables.due_invoice_count,
        receivables.worst_days_past_due,
        {{ credit_utilisation('receivables.open_balance', 'customers.credit_limit') }} as credit_utilisation,
        {{ has_serious_overdue('receivables.') }} as has_serious_overdue,
        {{ has_chronic_overdue('receivables.') }} as has_chronic_overdue
    from receivables
    left join customers
        on
            receivables.customer_id = customers.customer_id
            and receivables.as_of_date between customers.valid_from_date and customers.valid_to_date

)

select * from final
