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

{#- How a build of many as-of dates gives each as-of row its window figures:
    'as_of_rows': every as-of row without activity that day is a timeline row, and the
      RANGE frames are evaluated on it (the whole grid of as-of rows goes through every
      window function: right where customers buy on most days);
    'change_points': the timeline holds only the days a figure can change (activity days,
      and the days an activity day enters or leaves a frame, window_change_offsets), and
      each as-of row takes the figures of the latest of them on or before its date, by an
      ASOF join (DuckDB). Where customers buy a few times a year the frames then run over
      a tenth of the rows (23,000 customers x 548 days, 70,223 lines: 28 s -> 8 s); where
      they buy most days there are about as many change days as as-of rows and the join
      costs more than it saves (1 year at 20,000 customers: 20.8 s -> 22.5 s).
    Var window_timeline 'auto' (the default) chooses change_points on DuckDB when the
    change days would be fewer than half the as-of grid (the activity days read, each
    with its offsets, against customers x as-of dates), else as_of_rows; 'as_of_rows' or
    'change_points' forces one (on DuckDB; other adapters have no ASOF join). -#}
{% macro window_timeline() -%}
    {%- set chosen = var('window_timeline') -%}
    {%- if chosen not in ('auto', 'as_of_rows', 'change_points') -%}
        {{ exceptions.raise_compiler_error("var window_timeline must be auto, as_of_rows or change_points, not " ~ chosen) }}
    {%- endif -%}
    {%- if target.type != 'duckdb' -%}
        {{ return('as_of_rows') }}
    {%- endif -%}
    {%- if chosen != 'auto' -%}
        {{ return(chosen) }}
    {%- endif -%}
    {%- set days = ref('int_customer_days_aggregated') -%}
    {%- if not execute or adapter.get_relation(database=days.database, schema=days.schema, identifier=days.identifier) is none -%}
        {{ return('as_of_rows') }}
    {%- endif -%}
    {%- set counted = run_query(
        'select count(*), count(distinct customer_id) from ' ~ days
        ~ ' where activity_date between ' ~ lookback_start_date() ~ ' and ' ~ as_of_date()
    ) -%}
    {%- set activity_days, customers = counted.rows[0][0], counted.rows[0][1] -%}
    {%- set change_days = activity_days * (1 + window_change_offsets() | length) -%}
    {{ return('change_points' if change_days * 2 < customers * build_days() else 'as_of_rows') }}
{%- endmacro %}

{#- The days after an activity day on which it enters or leaves a frame of
    int_customer_windows_summed: each trailing sum (window_sums) takes a day `lag` days
    later and lets it go `days + lag` days later; the median's window lets it go
    window_days later. -#}
{% macro window_change_offsets() -%}
    {%- set offsets = [var('window_days') | int] -%}
    {%- for window_sum in window_sums() -%}
    {%- for offset in [window_sum.lag | int, (window_sum.days | int) + (window_sum.lag | int)] -%}
    {%- if offset > 0 and offset not in offsets -%}{%- do offsets.append(offset) -%}{%- endif -%}
    {%- endfor -%}
    {%- endfor -%}
    {{ return(offsets | sort) }}
{%- endmacro %}
