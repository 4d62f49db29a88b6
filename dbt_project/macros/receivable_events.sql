{#- The running figures of int_customer_receivables_aged, each summed from a
    `<name>_delta` column of receivable_events: the open balance, what was invoiced in the
    last dso_days days and, per threshold k of past_due_thresholds, the amount at least k
    days past due (money, the first ones; `money_only` returns them alone), then the
    invoices settled and due in the trailing window, their days late and on-time count,
    and the oldest open overdue invoice's due date (a day number) and count. -#}
{% macro receivable_deltas(money_only=false) -%}
    {%- set deltas = ['open', 'dso_invoiced'] -%}
    {%- for days in past_due_thresholds() %}{% do deltas.append('past_due_' ~ days) %}{% endfor -%}
    {%- if not money_only -%}
    {%- do deltas.extend([
        'settled_count', 'days_late', 'due_count', 'on_time_count', 'oldest_due_day', 'oldest_due_count',
    ]) -%}
    {%- endif -%}
    {{ return(deltas) }}
{%- endmacro %}

{#- The dated events of receivable_balances_by_event, one union part per kind, read from
    its CTEs invoices, invoice_payments, owed_at_thresholds, past_due_days and
    oldest_segments. Ageing uses thresholds: an amount is "at least k days past due" from
    due date + k until paid, so on the day an invoice reaches k days past due what it still
    owes then enters (one row per threshold it still owes at, from one scan of
    owed_at_thresholds), and each later payment leaves (in the payment's one row, beside
    the open balance it lowers). Settled and due invoices count in the trailing window,
    from their day until window_days later (receivable_events_in_window). -#}
{% macro receivable_events() -%}
{%- set deltas = receivable_deltas() %}
{%- set window_days = var('window_days') | int %}
{%- set dso_days = var('dso_days') | int %}
{%- set payment_values = {'open': '-payment_amount'} %}
{%- set owed_values = {} %}
{%- for days in past_due_thresholds() %}
{%- do payment_values.update({
    'past_due_' ~ days: 'case when payment_date > ' ~ add_days('due_date', days) ~ ' then -payment_amount else 0 end'
}) %}
{%- do owed_values.update({
    'past_due_' ~ days: 'case when past_due_days.days = ' ~ days ~ ' then owed_at_' ~ days ~ ' else 0 end'
}) %}
{%- endfor %}
    select
        customer_id,
        {{ event_row(deltas, 'invoice_date', {'open': 'invoice_amount', 'dso_invoiced': 'invoice_amount'}) }}
    from invoices

    union all

    select customer_id, {{ event_row(deltas, add_days('invoice_date', dso_days), {'dso_invoiced': '-invoice_amount'}) }}
    from invoices

    union all

    select customer_id, {{ event_row(deltas, 'payment_date', payment_values) }}
    from invoice_payments

    union all

    select
        owed_at_thresholds.customer_id,
        {{ event_row(deltas, add_days('owed_at_thresholds.due_date', 'past_due_days.days'), owed_values) }}
    from owed_at_thresholds
    cross join past_due_days
    where
        {%- for days in past_due_thresholds() %}
        {% if not loop.first %}or {% endif %}(past_due_days.days = {{ days }} and owed_at_{{ days }} <> 0)
        {%- endfor %}

    union all

    {{ receivable_events_in_window(
        deltas, 'invoices', 'settled_date', window_days, {'settled_count': '1', 'days_late': 'days_late'},
        where='settled_date is not null',
    ) }}

    union all

    {{ receivable_events_in_window(
        deltas, 'invoices', 'due_date', window_days,
        {'due_count': '1', 'on_time_count': 'case when is_paid_on_time then 1 else 0 end'},
    ) }}

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
{%- endmacro %}

{#- Two parts of a union of dated events (event_row), for counts over a trailing window:
    `values` (name -> SQL) enter on the day `date_column` of each row of `relation` (where
    `where` holds) and leave, negated, `days` days later, so their running sum on D is
    over the rows dated in the `days` days up to D. -#}
{% macro receivable_events_in_window(names, relation, date_column, days, values, where=none) -%}
    {%- set leaving = {} -%}
    {%- for name, value in values.items() %}{% do leaving.update({name: '-(' ~ value ~ ')'}) %}{% endfor -%}
    select customer_id, {{ event_row(names, date_column, values) }}
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}

    union all

    select customer_id, {{ event_row(names, add_days(date_column, days), leaving) }}
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
{%- endmacro %}
