{#- The trailing sums of int_customer_windows_aggregated: each figure is the sum of a
    customer-day column over the last `days` days ending `lag` days before the as-of date.
    A window sum costs the same on every row of every as-of date, so each distinct sum is
    taken once: figures over the same column and days share it (at the defaults,
    yoy_current_amount and recent_contribution; with tier_basis revenue, mom_current_amount
    and recent_revenue too), and the profits over the window are the differences of
    their parts, as on each day (int_customer_days_aggregated). -#}
{% macro window_figures() -%}
    {%- set window_days = var('window_days') | int -%}
    {%- set basis = tier_basis_column() -%}
    {%- set figures = [] -%}
    {%- for column in window_money_columns() + ['order_count', 'line_count', 'cost_entry_count'] -%}
    {%- do figures.append({'name': column, 'column': column, 'days': window_days, 'lag': 0}) -%}
    {%- endfor -%}
    {%- do figures.extend([
        {'name': 'recent_revenue', 'column': 'revenue', 'days': var('churn_recent_days') | int, 'lag': 0},
        {'name': 'mom_current_amount', 'column': basis, 'days': var('growth_mom_days') | int, 'lag': 0},
        {'name': 'mom_previous_amount', 'column': basis, 'days': var('growth_mom_days') | int, 'lag': var('growth_mom_days') | int},
        {'name': 'yoy_current_amount', 'column': basis, 'days': var('growth_yoy_days') | int, 'lag': 0},
        {'name': 'yoy_previous_amount', 'column': basis, 'days': var('growth_yoy_days') | int, 'lag': var('growth_year_lag_days') | int},
        {'name': 'recent_contribution', 'column': basis, 'days': var('outlook_run_rate_days') | int, 'lag': 0},
    ]) -%}
    {{ return(figures) }}
{%- endmacro %}

{#- The money figures summed over the window (each also published, cast to money). -#}
{% macro window_money_columns() -%}
    {{ return(profit_columns() + ['list_value', 'deep_discount_list_value']) }}
{%- endmacro %}

{#- The distinct sums behind window_figures(), each named after the first figure it serves. -#}
{% macro window_sums() -%}
    {%- set derived = window_derived_figures() -%}
    {%- set sums = [] -%}
    {%- set keys = [] -%}
    {%- for figure in window_figures() if figure.name not in derived -%}
    {%- set key = [figure.column, figure.days, figure.lag] -%}
    {%- if key not in keys -%}
    {%- do keys.append(key) -%}
    {%- do sums.append(figure) -%}
    {%- endif -%}
    {%- endfor -%}
    {{ return(sums) }}
{%- endmacro %}

{#- Figures computed from other window sums: the profits over the window. -#}
{% macro window_derived_figures() -%}
    {{ return({'gross_profit': 'revenue - cogs', 'customer_profit': 'revenue - cogs - cost_to_serve'}) }}
{%- endmacro %}

{#- Each figure of window_figures() as an expression over the columns window_sums() names. -#}
{% macro window_figure_expressions() -%}
    {%- set derived = window_derived_figures() -%}
    {%- set sums = window_sums() -%}
    {%- set expressions = {} -%}
    {%- for figure in window_figures() -%}
    {%- if figure.name in derived -%}
    {%- do expressions.update({figure.name: derived[figure.name]}) -%}
    {%- else -%}
    {%- for window_sum in sums if [window_sum.column, window_sum.days, window_sum.lag] == [figure.column, figure.days, figure.lag] -%}
    {%- do expressions.update({figure.name: window_sum.name}) -%}
    {%- endfor -%}
    {%- endif -%}
    {%- endfor -%}
    {{ return(expressions) }}
{%- endmacro %}

{#- The customer-day columns the distinct trailing sums read (window_sums), each once. -#}
{% macro window_summed_columns() -%}
    {%- set columns = [] -%}
    {%- for window_sum in window_sums() if window_sum.column not in columns -%}
    {%- do columns.append(window_sum.column) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- The as-of rows (the CTE as_of_rows: customer_id, as_of_date) joined to the customer's
    rows of `relation` dated by `date_column` in the `days` days up to the as-of date; one
    row per as-of row with `aggregate` (SQL and its name) over them. Costs as-of rows x
    dated rows: for a build of a few as-of dates. -#}
{% macro as_of_rows_joined(relation, date_column, aggregate, days) -%}
    select
        as_of_rows.customer_id,
        as_of_rows.as_of_date,
        {{ aggregate }}
    from as_of_rows
    inner join {{ relation }}
        on
            as_of_rows.customer_id = {{ relation }}.customer_id
            and {{ relation }}.{{ date_column }} > {{ add_days('as_of_rows.as_of_date', -days) }}
            and as_of_rows.as_of_date >= {{ relation }}.{{ date_column }}
    group by as_of_rows.customer_id, as_of_rows.as_of_date
{%- endmacro %}
