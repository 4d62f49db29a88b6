{#- Ageing buckets of receivables by days past due (as-of date - due date). The bucket
    edges are the published column contract of receivables_aging (not_yet_due, 1-30,
    31-60, 61-90, 90+), so they live here once rather than in vars. `min_days` and
    `max_days` are inclusive; none = unbounded. -#}
{% macro aging_buckets() -%}
    {{ return([
        {"name": "not_yet_due_balance", "min_days": none, "max_days": 0},
        {"name": "days_1_30_balance", "min_days": 1, "max_days": 30},
        {"name": "days_31_60_balance", "min_days": 31, "max_days": 60},
        {"name": "days_61_90_balance", "min_days": 61, "max_days": 90},
        {"name": "days_over_90_balance", "min_days": 91, "max_days": none},
    ]) }}
{%- endmacro %}

{#- Balances the tier rules look at, with edges from vars: more than N days past due. -#}
{% macro rule_overdue_buckets() -%}
    {{ return([
        {"name": "overdue_balance", "min_days": 1, "max_days": none},
        {"name": "serious_overdue_balance", "min_days": var("credit_cap_days_past_due") | int + 1, "max_days": none},
        {"name": "chronic_overdue_balance", "min_days": var("credit_drop_days_past_due") | int + 1, "max_days": none},
    ]) }}
{%- endmacro %}

{#- The columns of one row of a union of dated events: `date_expr` as event_date, then a
    `<name>_delta` column for every name in `names`, from `values` (name -> SQL) or 0. The
    running sums over such unions give balances and trailing-window counts on any day. -#}
{% macro event_row(names, date_expr, values) -%}
    {%- set columns = [] -%}
    {%- for name in names %}{% do columns.append(values.get(name, '0') ~ ' as ' ~ name ~ '_delta') %}{% endfor -%}
    {{ date_expr }} as event_date, {{ columns | join(', ') }}
{%- endmacro %}

{#- The days past due at which an amount enters or leaves a bucket (aging_buckets and
    rule_overdue_buckets): an amount is "at least k days past due" from due date + k. -#}
{% macro past_due_thresholds() -%}
    {%- set thresholds = [] %}
    {%- for bucket in aging_buckets() + rule_overdue_buckets() %}
    {%- for edge in [bucket.min_days, none if bucket.max_days is none else bucket.max_days + 1] %}
    {%- if edge is not none and edge not in thresholds %}{% do thresholds.append(edge) %}{% endif %}
    {%- endfor %}
    {%- endfor %}
    {{ return(thresholds) }}
{%- endmacro %}

{#- The last day an invoice paid exactly adds to any receivable figure: its last payment,
    the end of the trailing windows counting its settlement and due date, its last
    past-due threshold, the end of the DSO period it was invoiced in. Null while it is
    not paid exactly (it stays live). -#}
{% macro invoice_live_until_date(invoice_date, due_date, settled_date, last_payment_date, paid_amount, invoice_amount) -%}
    case
        when {{ settled_date }} is not null and {{ paid_amount }} = {{ invoice_amount }}
            then greatest(
                {{ last_payment_date }},
                {{ add_days(settled_date, var('window_days') | int) }},
                {{ add_days(due_date, var('window_days') | int) }},
                {{ add_days(due_date, past_due_thresholds() | max) }},
                {{ add_days(invoice_date, var('dso_days') | int) }}
            )
    end
{%- endmacro %}

{#- The invoices an incremental build of int_invoices_settled recomputes: issued on or
    after history_start_date, or with a payment dated on or after it, as built before
    (a payment since deleted) or as loaded now (a payment since added). Read before the
    build replaces them (delete+insert on invoice_id), so `this` still holds them. -#}
{% macro is_recomputed_invoice(invoice_id, invoice_date) -%}
    {{ invoice_date }} >= {{ history_start_date() }}
    or {{ invoice_id }} in (
        select invoice_id from {{ ref('stg_erp__ar_payments') }}
        where payment_date >= {{ history_start_date() }}
    )
    or {{ invoice_id }} in (
        select invoice_id from {{ this }}
        where last_payment_date >= {{ history_start_date() }}
    )
{%- endmacro %}

{#- The invoices issued from history_start_date on are deleted before the build (the
    pre-hook), so one withdrawn from its corrected day leaves the table; the build then
    inserts them back from the raw tables, with the other recomputed invoices. -#}
{% macro delete_recomputed_invoices() -%}
    {%- if is_incremental() %}
    delete from {{ this }} where invoice_date >= {{ history_start_date() }}
    {%- endif %}
{%- endmacro %}

{#- The credit figures and rule conditions both int_customer_profiles_joined (for the
    tier rules and alerts) and receivables_aging (for the credit desk) publish, written
    once so the two cannot drift: open balance over a positive credit limit, and serious
    (credit_cap) and chronic (credit_drop) overdue debt at the rules' amounts. `prefix`
    qualifies the balance columns (`receivables.`). -#}
{% macro credit_utilisation(open_balance, credit_limit) -%}
    {{ safe_divide(open_balance, 'case when ' ~ credit_limit ~ ' > 0 then ' ~ credit_limit ~ ' end') }}
{%- endmacro %}

{% macro has_serious_overdue(prefix='') -%}
    {{ prefix }}serious_overdue_balance >= {{ var('credit_cap_min_amount') }}
{%- endmacro %}

{% macro has_chronic_overdue(prefix='') -%}
    {{ prefix }}chronic_overdue_balance >= {{ var('credit_drop_min_amount') }}
{%- endmacro %}
