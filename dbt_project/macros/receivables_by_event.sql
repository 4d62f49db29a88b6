{#- Receivables of a build of many as-of dates (int_customer_receivables_aged), with
    nothing that grows with invoices x days: every invoice and payment becomes a few dated
    events (receivable_events), summed per customer and day. Running sums over those
    event days give the figures from each event day until the customer's next one, and
    each as-of date takes the figures of its latest event day (the days of that span
    joined by equality, not a customer x date grid). Events before history_start_date are
    folded into that day. Renders the CTEs invoice_payments, owed_at_thresholds,
    past_due_days, oldest_segments, events, event_days, running, spans and balances
    (customer_id, as_of_date and each running figure of receivable_deltas) from the CTEs
    invoices, payments and as_of_dates of the model. -#}
{% macro receivable_balances_by_event() -%}
{%- set deltas = receivable_deltas() %}
{%- set money_deltas = receivable_deltas(money_only=true) %}
{%- set thresholds = past_due_thresholds() %}
invoice_payments as {{ inline_cte() }} (

    select
        invoices.customer_id,
        invoices.invoice_id,
        invoices.due_date,
        payments.payment_date,
        payments.payment_amount
    from payments
    inner join invoices on payments.invoice_id = invoices.invoice_id
    where payments.payment_date <= {{ as_of_date() }}

),

-- What each invoice still owed on the day it became at least k days past due, per
-- threshold k: most invoices are paid before, and then have no ageing events at all.
owed_at_thresholds as {{ inline_cte() }} (

    select
        invoices.customer_id,
        invoices.due_date,
        {%- for days in thresholds %}
        invoices.invoice_amount - coalesce(sum(
            case
                when invoice_payments.payment_date <= {{ add_days('invoices.due_date', days) }}
                    then invoice_payments.payment_amount
            end
        ), 0) as owed_at_{{ days }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from invoices
    left join invoice_payments on invoices.invoice_id = invoice_payments.invoice_id
    group by invoices.invoice_id, invoices.customer_id, invoices.due_date, invoices.invoice_amount

),

-- The thresholds as rows, for the ageing events of owed_at_thresholds (one scan for all).
past_due_days as (

    {%- for days in thresholds %}
    select {{ days }} as days{% if not loop.last %} union all{% endif %}
    {%- endfor %}

),

-- Invoice i is the oldest open overdue invoice of its customer on [oldest_from_date, settled_date).
oldest_segments as {{ inline_cte() }} (

    select
        customer_id,
        due_date,
        settled_date,
        greatest(
            {{ add_days('due_date', 1) }},
            coalesce(max(coalesce(settled_date, cast('9999-12-31' as date))) over (
                partition by customer_id
                order by due_date, invoice_id
                rows between unbounded preceding and 1 preceding
            ), {{ add_days('due_date', 1) }})
        ) as oldest_from_date
    from invoices

),

events as (

    {{ receivable_events() }}

),

event_days as (

    select
        customer_id,
        greatest(event_date, {{ history_start_date() }}) as event_date,
        {#- Narrow types: the window below holds every row of a customer at once. #}
        {%- for name in deltas %}
        cast(sum({{ name }}_delta) as {{ type_money() if name in money_deltas else 'bigint' }}) as {{ name }}_delta
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from events
    where event_date <= {{ as_of_date() }}
    group by customer_id, greatest(event_date, {{ history_start_date() }})

),

-- The figures after each event day hold until the customer's next one: running sums
-- over the event days alone, not over a customer x as-of date grid.
running as (

    select
        customer_id,
        event_date,
        {%- for name in deltas %}
        sum({{ name }}_delta) over (
            partition by customer_id
            order by event_date
            rows between unbounded preceding and current row
        ) as {{ name }},
        {%- endfor %}
        coalesce(lead(event_date) over event_order, {{ add_days(as_of_date(), 1) }}) as next_event_date
    from event_days
    window event_order as (partition by customer_id order by event_date)

),

-- Each event day's figures over the days they hold (to the customer's next event day),
-- joined to the as-of dates by equality.
spans as (

    select
        *,
        {{ span_days('event_date', add_days('next_event_date', -1)) }} as span_date
    from running
    where open <> 0 or dso_invoiced <> 0 or settled_count <> 0 or due_count <> 0

),

balances as (

    select
        spans.customer_id,
        as_of_dates.as_of_date,
        {%- for name in deltas %}
        spans.{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from spans
    inner join as_of_dates on spans.span_date = as_of_dates.as_of_date

)
{%- endmacro %}
