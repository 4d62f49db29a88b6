-- The trailing sums (macros/windows.sql window_sums), active months, latest order day and
-- median order interval of each as-of row (int_customer_as_of_dates_selected), read off the
-- customer's dated rows (int_customer_window_rows_dated). A build of a few as-of dates joins
-- each as-of row to its activity days and order days, and counts active months as the
-- distinct months of its window's order days, so it reads no month events (a daily run at
-- 3 years: 1.1 s, not 2.3 s). A build of many slides RANGE frames over one timeline of the
-- dated rows and (var window_timeline, macros/windows.sql) either the as-of rows, where an
-- activity day that is also an as-of date stands for its as-of row (rows of one day share
-- their RANGE frames), so the timeline holds as-of rows only for days without activity; or
-- the change days, the days without activity on which an activity day enters or leaves a
-- frame, each as-of row then taking the figures of the latest timeline day on or before it
-- (nothing changes in between). Ephemeral: compiled into its one reader,
-- int_customer_windows_aggregated.
-- depends_on: {{ ref('int_customer_days_aggregated') }} (window_timeline counts its rows)
{%- set window_days = var('window_days') | int %}
{%- set sums = window_sums() %}
{%- set is_few_as_of_dates = build_days() <= few_as_of_dates() %}
{#- The median interval: over a window frame where the adapter has a windowed median, else
    (and for a few as-of dates) by a join of each as-of row to the order days of its window. #}
{%- set is_median_joined = is_few_as_of_dates or not window_median_supported() %}
{#- A build of many: which timeline (macros/windows.sql window_timeline). #}
{%- set is_change_timeline = not is_few_as_of_dates and window_timeline() == 'change_points' %}

with

dated_rows as (

    select * from {{ ref('int_customer_window_rows_dated') }}

),

order_days_in_lookback as (

    select * from {{ ref('int_customer_order_days_sequenced') }}
    where order_date between {{ lookback_start_date() }} and {{ as_of_date() }}

),

as_of_rows as (

    select * from {{ ref('int_customer_as_of_dates_selected') }}

),
{%- if is_few_as_of_dates %}

windowed as (

    select
        as_of_rows.customer_id,
        as_of_rows.as_of_date,
        {%- for window_sum in sums %}
        sum(
            case
                when
                    dated_rows.timeline_date
                    > {{ add_days('as_of_rows.as_of_date', -(window_sum.days + window_sum.lag)) }}
                    and dated_rows.timeline_date <= {{ add_days('as_of_rows.as_of_date', -window_sum.lag) }}
                    then dated_rows.{{ window_sum.column }}
            end
        ) as {{ window_sum.name }},
        {%- endfor %}
        max(dated_rows.order_date) as last_order_in_lookback_date
    from as_of_rows
    left join dated_rows
        on
            as_of_rows.customer_id = dated_rows.customer_id
            and as_of_rows.as_of_date >= dated_rows.timeline_date
            and dated_rows.is_activity_day
    group by as_of_rows.customer_id, as_of_rows.as_of_date

),
{%- else %}
{#- The rows added to the dated rows: the as-of rows without activity that day, or the
    days without activity on which an activity day enters or leaves a frame. #}
{%- set added = 'change_days' if is_change_timeline else 'as_of_rows' %}
{%- set added_day = added ~ ('.day_number' if is_change_timeline else '.as_of_date') %}
{%- if is_change_timeline %}

change_days as (

    select distinct
        activity_days.customer_id,
        activity_days.day_number + offsets.days as day_number
    from dated_rows as activity_days
    cross join (values ({{ window_change_offsets() | join('), (') }})) as offsets (days)
    where
        activity_days.is_activity_day
        and activity_days.day_number + offsets.days <= {{ day_number(as_of_date()) }}

),
{%- endif %}

timeline as (

    select
        dated_rows.*,
        order_days_in_lookback.order_interval_days,
        {%- if is_change_timeline %}
        0 as is_as_of_row
        {%- else %}
        case when as_of_rows.as_of_date is null then 0 else 1 end as is_as_of_row
        {%- endif %}
    from dated_rows
    left join order_days_in_lookback
        on
            dated_rows.customer_id = order_days_in_lookback.customer_id
            and dated_rows.order_date = order_days_in_lookback.order_date
    {%- if not is_change_timeline %}
    left join as_of_rows
        on
            dated_rows.is_activity_day
            and dated_rows.customer_id = as_of_rows.customer_id
            and dated_rows.timeline_date = as_of_rows.as_of_date
    {%- endif %}

    union all

    select
        {{ added }}.customer_id,
        {%- if is_change_timeline %}
        change_days.day_number,
        {%- else %}
        {{ day_number('as_of_rows.as_of_date') }} as day_number,
        {%- endif %}
        {%- for column in window_summed_columns() %}
        0 as {{ column }},
        {%- endfor %}
        0 as active_month_delta,
        null as order_date,
        {{ 'cast(null as date)' if is_change_timeline else added_day }} as timeline_date,
        false as is_activity_day,
        null as order_interval_days,
        {{ 0 if is_change_timeline else 1 }} as is_as_of_row
    from {{ added }}
    left join dated_rows
        on
            dated_rows.is_activity_day
            and {{ added }}.customer_id = dated_rows.customer_id
            and {{ added_day }} = dated_rows.{{ 'day_number' if is_change_timeline else 'timeline_date' }}
    where dated_rows.customer_id is null

),

windowed as (

    select
        customer_id,
        day_number,
        timeline_date as as_of_date,
        is_as_of_row,
        {%- for window_sum in sums %}
        sum({{ window_sum.column }}) over (
            partition by customer_id
            order by day_number
            range between {{ window_sum.days + window_sum.lag - 1 }} preceding
            and {{ 'current row' if window_sum.lag == 0 else window_sum.lag ~ ' preceding' }}
        ) as {{ window_sum.name }},
        {%- endfor %}
        {%- if not is_median_joined %}
        {{ median('order_interval_days') }} over (
            partition by customer_id
            order by day_number
            range between {{ window_days - 1 }} preceding and current row
        ) as median_order_interval_days,
        {%- endif %}
        sum(active_month_delta) over history_to_date as active_months,
        max(order_date) over history_to_date as last_order_in_lookback_date
    from timeline
    window history_to_date as (
        partition by customer_id
        order by day_number
        range between unbounded preceding and current row
    )

),
{%- endif %}
{%- if is_median_joined %}

interval_medians as (
    {{ as_of_rows_joined(
        'order_days_in_lookback', 'order_date',
        median('order_days_in_lookback.order_interval_days') ~ ' as median_order_interval_days'
        ~ (', count(distinct order_days_in_lookback.order_month_start_date) as active_months' if is_few_as_of_dates else ''),
        days=window_days,
    ) }}
),
{%- endif %}

final as (

    select
        {{ 'as_of_rows' if is_change_timeline else 'windowed' }}.customer_id,
        {{ 'as_of_rows' if is_change_timeline else 'windowed' }}.as_of_date,
        {%- for window_sum in sums %}
        windowed.{{ window_sum.name }},
        {%- endfor %}
        {{ 'interval_medians' if is_few_as_of_dates else 'windowed' }}.active_months,
        windowed.last_order_in_lookback_date,
        {{ 'interval_medians' if is_median_joined else 'windowed' }}.median_order_interval_days
    from {{ 'as_of_rows' if is_change_timeline else 'windowed' }}
    {% if is_change_timeline -%}
    -- The latest timeline day on or before the as-of date: all its rows share its frames.
    asof left join windowed
        on
            as_of_rows.customer_id = windowed.customer_id
            and {{ day_number('as_of_rows.as_of_date') }} >= windowed.day_number
    {%- endif %}
    {% if is_median_joined -%}
    left join interval_medians
        on
            windowed.customer_id = interval_medians.customer_id
            and windowed.as_of_date = interval_medians.as_of_date
    {%- endif %}
    {%- if not is_few_as_of_dates and not is_change_timeline %}
    where windowed.is_as_of_row = 1
    {%- endif %}

)

select * from final
