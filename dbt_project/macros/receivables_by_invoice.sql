{#- Receivables of a build of a few as-of dates (a daily run, int_customer_receivables_aged):
    each live invoice summed into each as-of date directly, rather than running every
    invoice's events to read a handful of dates. Same figures as
    receivable_balances_by_event: what an invoice owes on D is its amount less the
    payments up to D (its payments less those after D), and a threshold amount is what it
    owes on D once D is k days past due. Renders the CTEs later_payments, invoice_dates and
    balances (customer_id, as_of_date and the running figures: open, dso_invoiced,
    past_due_<k> per threshold k, settled_count, days_late, due_count, on_time_count,
    oldest_due_day, oldest_due_count) from the CTEs invoices, payments and as_of_dates of
    the model. -#}
{% macro receivable_balances_by_invoice() -%}
{%- set window_days = var('window_days') | int %}
{%- set dso_days = var('dso_days') | int %}
{%- set thresholds = past_due_thresholds() %}
later_payments as (

    select
        payments.invoice_id,
        as_of_dates.as_of_date,
        sum(payments.payment_amount) as payment_amount
    from payments
    inner join as_of_dates on payments.payment_date > as_of_dates.as_of_date
    where payments.payment_date > {{ history_start_date() }}
    group by payments.invoice_id, as_of_dates.as_of_date

),

invoice_dates as (

    select
        invoices.*,
        as_of_dates.as_of_date,
        invoices.paid_amount - coalesce(later_payments.payment_amount, 0) as paid_by_as_of_amount
    from invoices
    cross join as_of_dates
    left join later_payments
        on
            invoices.invoice_id = later_payments.invoice_id
            and as_of_dates.as_of_date = later_payments.as_of_date

),

{%- set is_settled_in_window =
    "settled_date <= as_of_date and " ~ add_days('settled_date', window_days) ~ " > as_of_date" %}
{%- set is_due_in_window =
    "due_date <= as_of_date and " ~ add_days('due_date', window_days) ~ " > as_of_date" %}
{%- set is_open_overdue =
    add_days('due_date', 1) ~ " <= as_of_date and (settled_date is null or settled_date > as_of_date)" %}

balances as (

    select
        customer_id,
        as_of_date,
        sum(case when invoice_date <= as_of_date then invoice_amount else 0 end)
        - sum(paid_by_as_of_amount) as open,
        sum(
            case
                when invoice_date <= as_of_date and {{ add_days('invoice_date', dso_days) }} > as_of_date
                    then invoice_amount
                else 0
            end
        ) as dso_invoiced,
        {%- for days in thresholds %}
        sum(
            case
                when {{ add_days('due_date', days) }} <= as_of_date then invoice_amount - paid_by_as_of_amount
                else 0
            end
        ) as past_due_{{ days }},
        {%- endfor %}
        count(case when {{ is_settled_in_window }} then 1 end) as settled_count,
        sum(case when {{ is_settled_in_window }} then days_late else 0 end) as days_late,
        count(case when {{ is_due_in_window }} then 1 end) as due_count,
        count(case when {{ is_due_in_window }} and is_paid_on_time then 1 end) as on_time_count,
        min(
            case when {{ is_open_overdue }} then {{ day_number('due_date') }} end
        ) as oldest_due_day,
        count(case when {{ is_open_overdue }} then 1 end) as oldest_due_count
    from invoice_dates
    group by customer_id, as_of_date

)
{%- endmacro %}
