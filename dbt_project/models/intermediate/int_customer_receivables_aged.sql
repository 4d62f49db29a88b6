-- Receivables per customer as of every date of the build (the loaded days in history_start_date..as_of_date),
-- point in time: an invoice counts from its invoice date, a payment from its payment date,
-- so an invoice paid after D is still open as of D.
--
-- Set-based, no invoice x as-of-date join: every invoice and payment becomes dated events
-- (+amount when an amount enters a state, -amount when it leaves), and a running sum over a
-- dense customer x day grid gives each balance on every day. An invoice's amount sits in
-- the ageing bucket of its days past due (as-of date - due date) from the day it reaches
-- the bucket until it leaves it; a payment removes its amount from every bucket the invoice
-- is in from the payment date on. Events before history_start_date are folded into that
-- day (the running sums start from the full past).
--
-- Only worst_days_past_due (a maximum, not a sum) joins invoices to days: each invoice to
-- the days it is open and overdue, within the build's range.
{%- set window_days = var('window_days') | int %}
{%- set dso_days = var('dso_days') | int %}
{%- set buckets = aging_buckets() + rule_overdue_buckets() %}

with

invoices as (

    select * from {{ ref('int_invoices_settled') }}

),

payments as (

    select * from {{ ref('stg_erp__ar_payments') }}

),

as_of_dates as (

    select * from {{ ref('int_as_of_dates_loaded') }}

),

invoice_payments as (

    select
        invoices.customer_id,
        invoices.due_date,
        invoices.invoice_date,
        payments.payment_date,
        payments.payment_amount
    from payments
    inner join invoices on payments.invoice_id = invoices.invoice_id
    where payments.payment_date <= {{ as_of_date() }}

),

-- [from_date, until_date) intervals during which an amount sits in a bucket.
bucket_intervals as (

    {%- for bucket in buckets %}
    {%- set from_date = 'invoice_date' if bucket.min_days is none else add_days('due_date', bucket.min_days) %}
    {%- set until_date = 'cast(null as date)' if bucket.max_days is none else add_days('due_date', bucket.max_days + 1) %}

    select
        customer_id,
        '{{ bucket.name }}' as bucket_name,
        {{ from_date }} as from_date,
        {{ until_date }} as until_date,
        invoice_amount as amount
    from invoices

    union all

    select
        customer_id,
        '{{ bucket.name }}' as bucket_name,
        greatest(payment_date, {{ from_date }}) as from_date,
        {{ until_date }} as until_date,
        -payment_amount as amount
    from invoice_payments
    {%- if bucket.max_days is not none %}
    where payment_date < {{ until_date }}
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}

),

bucket_events as (

    select customer_id, bucket_name, from_date as event_date, amount
    from bucket_intervals
    where from_date < until_date or until_date is null

    union all

    select customer_id, bucket_name, until_date as event_date, -amount as amount
    from bucket_intervals
    where from_date < until_date

),

-- Counts over the trailing window: invoices settled in it (days late), invoices due in
-- it (paid on time or not), and the amount invoiced in the last dso_days days.
window_events as (

    select
        customer_id,
        invoice_date as event_date,
        invoice_amount as open_delta,
        invoice_amount as dso_invoiced_delta,
        0 as settled_count_delta,
        0 as days_late_delta,
        0 as due_count_delta,
        0 as on_time_count_delta
    from invoices

    union all

    select customer_id, {{ add_days('invoice_date', dso_days) }}, 0, -invoice_amount, 0, 0, 0, 0
    from invoices

    union all

    select customer_id, payment_date, -payment_amount, 0, 0, 0, 0, 0
    from invoice_payments

    union all

    select customer_id, settled_date, 0, 0, 1, days_late, 0, 0
    from invoices
    where settled_date is not null

    union all

    select customer_id, {{ add_days('settled_date', window_days) }}, 0, 0, -1, -days_late, 0, 0
    from invoices
    where settled_date is not null

    union all

    select customer_id, due_date, 0, 0, 0, 0, 1, case when is_paid_on_time then 1 else 0 end
    from invoices

    union all

    select
        customer_id, {{ add_days('due_date', window_days) }}, 0, 0, 0, 0, -1,
        case when is_paid_on_time then -1 else 0 end
    from invoices

),

events as (

    select
        customer_id,
        greatest(event_date, {{ history_start_date() }}) as event_date,
        {%- for bucket in buckets %}
        case when bucket_name = '{{ bucket.name }}' then amount else 0 end as {{ bucket.name }}_delta,
        {%- endfor %}
        0 as open_delta,
        0 as dso_invoiced_delta,
        0 as settled_count_delta,
        0 as days_late_delta,
        0 as due_count_delta,
        0 as on_time_count_delta
    from bucket_events
    where event_date <= {{ as_of_date() }}

    union all

    select
        customer_id,
        greatest(event_date, {{ history_start_date() }}) as event_date,
        {%- for bucket in buckets %}
        0 as {{ bucket.name }}_delta,
        {%- endfor %}
        open_delta,
        dso_invoiced_delta,
        settled_count_delta,
        days_late_delta,
        due_count_delta,
        on_time_count_delta
    from window_events
    where event_date <= {{ as_of_date() }}

),

{%- set deltas = [] -%}
{%- for bucket in buckets %}{% do deltas.append(bucket.name) %}{% endfor -%}
{%- do deltas.extend(['open', 'dso_invoiced', 'settled_count', 'days_late', 'due_count', 'on_time_count']) %}

event_days as (

    select
        customer_id,
        event_date,
        {%- for name in deltas %}
        sum({{ name }}_delta) as {{ name }}_delta{{ "," if not loop.last }}
        {%- endfor %}
    from events
    group by customer_id, event_date

),

calendar as (

    {{ dbt.date_spine('day', history_start_date(), add_days(as_of_date(), 1)) }}

),

grid_days as (

    select cast(date_day as date) as as_of_date
    from calendar

),

customers_with_receivables as (

    select distinct customer_id from event_days

),

-- Invoices overdue and still open on some day of the range: [due_date + 1, open_until_date).
overdue_invoices as (

    select
        customer_id,
        due_date,
        coalesce(settled_date, {{ add_days(as_of_date(), 1) }}) as open_until_date
    from invoices
    where
        due_date < {{ as_of_date() }}
        and (settled_date is null or settled_date > {{ history_start_date() }})

),

overdue_days as (

    select
        overdue_invoices.customer_id,
        grid_days.as_of_date,
        max({{ days_between('overdue_invoices.due_date', 'grid_days.as_of_date') }}) as worst_days_past_due
    from overdue_invoices
    inner join grid_days
        on
            grid_days.as_of_date > overdue_invoices.due_date
            and grid_days.as_of_date < overdue_invoices.open_until_date
    group by overdue_invoices.customer_id, grid_days.as_of_date

),

running as (

    select
        customers_with_receivables.customer_id,
        grid_days.as_of_date,
        {%- for name in deltas %}
        sum(coalesce(event_days.{{ name }}_delta, 0)) over (
            partition by customers_with_receivables.customer_id
            order by grid_days.as_of_date
            rows between unbounded preceding and current row
        ) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from customers_with_receivables
    cross join grid_days
    left join event_days
        on
            customers_with_receivables.customer_id = event_days.customer_id
            and grid_days.as_of_date = event_days.event_date

),

final as (

    select
        running.as_of_date,
        running.customer_id,
        cast(running.open as decimal(18, 2)) as open_balance,
        {%- for bucket in buckets %}
        cast(running.{{ bucket.name }} as decimal(18, 2)) as {{ bucket.name }},
        {%- endfor %}
        cast(running.dso_invoiced as decimal(18, 2)) as dso_invoiced_amount,
        case
            when running.dso_invoiced > 0
                then {{ safe_divide('running.open', 'running.dso_invoiced') }} * {{ dso_days }}
        end as dso_days,
        cast(running.settled_count as bigint) as settled_invoice_count,
        {{ safe_divide('running.days_late', 'running.settled_count') }} as avg_days_late,
        cast(running.due_count as bigint) as due_invoice_count,
        {{ safe_divide('running.on_time_count', 'running.due_count') }} as on_time_share,
        cast(coalesce(overdue_days.worst_days_past_due, 0) as integer) as worst_days_past_due
    from running
    left join overdue_days
        on
            running.customer_id = overdue_days.customer_id
            and running.as_of_date = overdue_days.as_of_date
    where
        running.as_of_date in (select as_of_date from as_of_dates)
        and (
            running.open <> 0
        or running.dso_invoiced <> 0
        or running.settled_count <> 0
            or running.due_count <> 0
        )

)

select * from final
