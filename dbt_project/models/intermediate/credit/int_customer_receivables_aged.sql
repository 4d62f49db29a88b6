-- Receivables per customer as of every date of the build (the loaded days in
-- history_start_date..as_of_date), point in time: an invoice counts from its invoice
-- date, a payment from its payment date, so an invoice paid after D is still open as of D.
--
-- One pass for all dates, with nothing that grows with invoices x days: every invoice and
-- payment becomes a few dated events (+amount when an amount enters a state, -amount when
-- it leaves), summed per customer and day. Running sums over those event days give the
-- figures from each event day until the customer's next one, and each as-of date takes
-- the figures of its latest event day (a join on that span, not a customer x date grid).
-- Ageing uses thresholds: an amount is "at least k days past due" from due date + k
-- until paid, so each bucket [min, max] is the amount at least min days past due minus
-- the amount at least max + 1 days past due (the open balance stands in for "at least
-- 0"): on the day an invoice reaches k days past due, what it still owes then enters,
-- and each later payment leaves. Events before history_start_date are folded
-- into that day.
--
-- Invoices paid exactly whose every event falls before history_start_date (their
-- live_until_date) add nothing to any balance or count from then on and are left out: a
-- daily build reads the live invoices (open, or due or settled within the window).
--
-- A build of a few as-of dates (a daily run) reads the same figures off each live
-- invoice directly instead (the first branch below).
--
-- worst_days_past_due (a maximum, not a sum) comes from the oldest open overdue invoice:
-- taking a customer's invoices by due date, invoice i is the oldest open overdue one from
-- greatest(due + 1, the latest open-until date of the invoices due before it) until it is
-- settled; those segments never overlap, so one running sum of their due dates (as day
-- numbers) gives the oldest due date open on any day.
{%- set window_days = var('window_days') | int %}
{%- set dso_days = var('dso_days') | int %}
{%- set buckets = aging_buckets() + rule_overdue_buckets() %}
{%- set thresholds = past_due_thresholds() %}
{%- set deltas = ['open', 'dso_invoiced'] %}
{%- for days in thresholds %}{% do deltas.append('past_due_' ~ days) %}{% endfor %}
{%- set money_deltas = deltas[:] %}
{%- do deltas.extend([
    'settled_count', 'days_late', 'due_count', 'on_time_count', 'oldest_due_day', 'oldest_due_count',
]) %}

with

invoices as {{ inline_cte() }} (

    select * from {{ ref('int_invoices_settled') }}
    where live_until_date is null or live_until_date >= {{ history_start_date() }}

),

payments as (

    select * from {{ ref('stg_erp__ar_payments') }}

),

as_of_dates as (

    select * from {{ ref('int_as_of_dates_loaded') }}

),

{%- if build_days() <= few_as_of_dates() %}

-- A build of a few as-of dates (a daily run) sums each live invoice into each date
-- directly, rather than running every invoice's events to read a handful of dates. Same
-- figures: what an invoice owes on D is its amount less the payments up to D (its
-- payments less those after D), and a threshold amount is what it owes on D once D is
-- k days past due.
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

),

{%- else %}

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

    select
        customer_id,
        {{ event_row(deltas, 'invoice_date', {'open': 'invoice_amount', 'dso_invoiced': 'invoice_amount'}) }}
    from invoices

    union all

    select customer_id, {{ event_row(deltas, add_days('invoice_date', dso_days), {'dso_invoiced': '-invoice_amount'}) }}
    from invoices

    union all

    select customer_id, {{ event_row(deltas, 'payment_date', {'open': '-payment_amount'}) }}
    from invoice_payments
    {%- for days in thresholds %}

    union all

    select customer_id, {{ event_row(deltas, add_days('due_date', days), {'past_due_' ~ days: 'owed_at_' ~ days}) }}
    from owed_at_thresholds
    where owed_at_{{ days }} <> 0

    union all

    select customer_id, {{ event_row(deltas, 'payment_date', {'past_due_' ~ days: '-payment_amount'}) }}
    from invoice_payments
    where payment_date > {{ add_days('due_date', days) }}
    {%- endfor %}

    union all

    select customer_id, {{ event_row(deltas, 'settled_date', {'settled_count': '1', 'days_late': 'days_late'}) }}
    from invoices
    where settled_date is not null

    union all

    select
        customer_id,
        {{ event_row(
            deltas, add_days('settled_date', window_days), {'settled_count': '-1', 'days_late': '-days_late'}
        ) }}
    from invoices
    where settled_date is not null

    union all

    select
        customer_id,
        {{ event_row(
            deltas, 'due_date', {'due_count': '1', 'on_time_count': 'case when is_paid_on_time then 1 else 0 end'}
        ) }}
    from invoices

    union all

    select
        customer_id,
        {{ event_row(
            deltas,
            add_days('due_date', window_days),
            {'due_count': '-1', 'on_time_count': 'case when is_paid_on_time then -1 else 0 end'},
        ) }}
    from invoices

    union all

    select
        customer_id,
        {{ event_row(deltas, 'oldest_from_date', {'oldest_due_day': day_number('due_date'), 'oldest_due_count': '1'}) }}
    from oldest_segments
    where settled_date is null or oldest_from_date < settled_date

    union all

    select
        customer_id,
        {{ event_row(
            deltas, 'settled_date', {'oldest_due_day': '-' ~ day_number('due_date'), 'oldest_due_count': '-1'}
        ) }}
    from oldest_segments
    where oldest_from_date < settled_date

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

balances as (

    select
        running.customer_id,
        as_of_dates.as_of_date,
        {%- for name in deltas %}
        running.{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from running
    inner join as_of_dates
        on
            running.event_date <= as_of_dates.as_of_date
            and running.next_event_date > as_of_dates.as_of_date
    where running.open <> 0 or running.dso_invoiced <> 0 or running.settled_count <> 0 or running.due_count <> 0

),

{%- endif %}

final as (

    select
        as_of_date,
        customer_id,
        cast(open as {{ type_money() }}) as open_balance,
        {%- for bucket in buckets %}
        cast(
            {{ 'open' if bucket.min_days is none else 'past_due_' ~ bucket.min_days }}
            {%- if bucket.max_days is not none %} - past_due_{{ bucket.max_days + 1 }}{% endif %}
            as {{ type_money() }}
        ) as {{ bucket.name }},
        {%- endfor %}
        cast(dso_invoiced as {{ type_money() }}) as dso_invoiced_amount,
        case
            when dso_invoiced > 0
                then {{ safe_divide('open', 'dso_invoiced') }} * {{ dso_days }}
        end as dso_days,
        cast(settled_count as bigint) as settled_invoice_count,
        {{ safe_divide('days_late', 'settled_count') }} as avg_days_late,
        cast(due_count as bigint) as due_invoice_count,
        {{ safe_divide('on_time_count', 'due_count') }} as on_time_share,
        cast(
            case
                when oldest_due_count > 0
                    then {{ day_number('as_of_date') }} - oldest_due_day
                else 0
            end as integer
        ) as worst_days_past_due
    from balances
    where
        (open <> 0 or dso_invoiced <> 0 or settled_count <> 0 or due_count <> 0)

)

select * from final
