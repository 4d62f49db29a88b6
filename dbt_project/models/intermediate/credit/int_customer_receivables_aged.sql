-- Receivables per customer as of every date of the build (the loaded days in
-- history_start_date..as_of_date), point in time: an invoice counts from its invoice
-- date, a payment from its payment date, so an invoice paid after D is still open as of D.
--
-- Invoices paid exactly whose every event falls before history_start_date (their
-- live_until_date) add nothing to any balance or count from then on and are left out: a
-- daily build reads the live invoices (open, or due or settled within the window).
--
-- Two ways to the same running figures (macros/receivable_events.sql receivable_deltas):
--   * a build of a few as-of dates (a daily run) sums each live invoice into each date
--     directly (macros/receivables_by_invoice.sql);
--   * a build of many turns every invoice and payment into a few dated events and takes
--     running sums over each customer's event days, each as-of date reading its latest
--     event day (macros/receivables_by_event.sql, macros/receivable_events.sql): nothing
--     grows with invoices x days.
-- Ageing uses thresholds: an amount is "at least k days past due" from due date + k until
-- paid, so each bucket [min, max] is the amount at least min days past due minus the
-- amount at least max + 1 days past due (the open balance stands in for "at least 0").
--
-- worst_days_past_due (a maximum, not a sum) comes from the oldest open overdue invoice:
-- taking a customer's invoices by due date, invoice i is the oldest open overdue one from
-- greatest(due + 1, the latest open-until date of the invoices due before it) until it is
-- settled; those segments never overlap, so one running sum of their due dates (as day
-- numbers) gives the oldest due date open on any day.
--
-- The macros read the import CTEs below by name (invoices, payments, as_of_dates).
{%- set dso_days = var('dso_days') | int %}
{%- set buckets = aging_buckets() + rule_overdue_buckets() %}

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

{{ receivable_balances_by_invoice() }},

{%- else %}

{{ receivable_balances_by_event() }},

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
