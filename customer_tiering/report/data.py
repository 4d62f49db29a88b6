"""The figures of the tier report, read from the published tables as of one date.

Every figure is a query on the published tables where BI tools read them (the BI
snapshot on DuckDB, schema marts on Postgres; customer_tiering.published), so the page
shows exactly what BI tools show: no recomputation of tiers here. The SQL is what both
engines speak (no `group by all`, no `any_value`, a double spelled `double precision`,
subqueries named, ids ordered by code point; tiers, `not tiered` and cut names sort alike
in any collation), so both targets draw the same page from the same rows. Money stays
DECIMAL in the warehouse; the frames carry floats for the charts, and the page prints
them rounded to cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from customer_tiering.publish import PUBLISHED_SCHEMA
from customer_tiering.published import HISTORY, TIERS, as_of_days_before, frame, previous_as_of
from customer_tiering.warehouses import Connection

# "Since 30 days earlier" and the migration matrix's span.
COMPARE_DAYS = 30
# Rows kept in the page's long tables (price exceptions); the count says how many in all.
TABLE_ROWS = 50
NOT_TIERED = "not tiered"
# A double on both engines (DuckDB also reads `double precision`; Postgres has no `double`).
DOUBLE = "double precision"
AGEING_BUCKETS = {
    "not_yet_due_balance": "not yet due",
    "days_1_30_balance": "1-30 days",
    "days_31_60_balance": "31-60 days",
    "days_61_90_balance": "61-90 days",
    "days_over_90_balance": "90+ days",
}


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows, as of one date."""

    as_of: date
    previous: date | None  # the as-of date before
    earlier: date | None  # COMPARE_DAYS before (or the first as-of date)
    basis: str
    cut_method: str
    tiers: pd.DataFrame  # tier, customers/contribution now, previous and earlier
    pareto: pd.DataFrame  # positive contributors by rank, with both cuts' tiers
    cuts: pd.DataFrame  # cut, tier, customers
    migration: pd.DataFrame  # from_tier, to_tier, customers (earlier -> as_of)
    ageing: pd.DataFrame  # tier, customers, open balance, one column per bucket
    alerts: pd.DataFrame
    price_exceptions: pd.DataFrame
    price_exception_count: int
    rebates: pd.DataFrame  # customers with revenue, rebate rate, flag
    new_customers: pd.DataFrame
    new_customers_as_of: date | None


def tier_figures(
    con: Connection, as_of: date, previous: date | None, earlier: date | None
) -> pd.DataFrame:
    """Customers and contribution per tier on each of the three dates (0 where none)."""
    days = {"now": as_of, "previous": previous, "earlier": earlier}
    result = pd.DataFrame({"tier": list(TIERS)})
    for label, day in days.items():
        counts = frame(
            con,
            f"select tier, count(*) as customers,"
            f" cast(sum(contribution) as {DOUBLE}) as contribution"
            f" from {HISTORY} where as_of_date = ? group by tier",
            [day],
        )
        counts = counts.rename(columns={c: f"{c}_{label}" for c in counts.columns if c != "tier"})
        result = result.merge(counts, on="tier", how="left")
    numbers = [column for column in result.columns if column != "tier"]
    result[numbers] = result[numbers].fillna(0)
    counts = [column for column in numbers if column.startswith("customers_")]
    result[counts] = result[counts].astype(int)
    for label in ("previous", "earlier"):
        if days[label] is None:
            result[[f"customers_{label}", f"contribution_{label}"]] = None
    return result


def pareto(con: Connection, as_of: date) -> pd.DataFrame:
    """Positive contributors in rank order with their cumulative share and both cuts."""
    return frame(
        con,
        f"""
        select contribution_rank as rank, customer_id, customer_name,
               cast(contribution as {DOUBLE}) as contribution, cumulative_share,
               share_cut_tier, count_cut_tier, tier
        from {HISTORY}
        where as_of_date = ? and contribution > 0
        order by contribution_rank
        """,
        [as_of],
    )


def cut_counts(con: Connection, as_of: date) -> pd.DataFrame:
    """How many customers each cut puts in each tier."""
    return frame(
        con,
        f"""
        select 'cumulative_share' as cut, share_cut_tier as tier, count(*) as customers
        from {HISTORY} where as_of_date = ? group by share_cut_tier
        union all
        select 'customer_count', count_cut_tier, count(*)
        from {HISTORY} where as_of_date = ? group by count_cut_tier
        order by 1, 2
        """,
        [as_of, as_of],
    )


def migration(con: Connection, as_of: date, earlier: date | None) -> pd.DataFrame:
    """Customers by (tier on `earlier`, tier on `as_of`); NOT_TIERED where a customer has
    no row on one of the two dates. Empty without an earlier date."""
    if earlier is None:
        return pd.DataFrame(columns=["from_tier", "to_tier", "customers"])
    return frame(
        con,
        f"""
        select coalesce(before.tier, ?) as from_tier, coalesce(after.tier, ?) as to_tier,
               count(*) as customers
        from (select customer_id, tier from {HISTORY} where as_of_date = ?) as before
        full outer join (select customer_id, tier from {HISTORY} where as_of_date = ?) as after
            using (customer_id)
        group by 1, 2
        order by 1, 2
        """,
        [NOT_TIERED, NOT_TIERED, earlier, as_of],
    )


def ageing(con: Connection, as_of: date) -> pd.DataFrame:
    """Receivables per final tier: customers, open balance and each ageing bucket."""
    buckets = ", ".join(
        f"cast(sum(aging.{column}) as {DOUBLE}) as {column}" for column in AGEING_BUCKETS
    )
    return frame(
        con,
        f"""
        select coalesce(history.tier, ?) as tier, count(*) as customers,
               cast(sum(aging.open_balance) as {DOUBLE}) as open_balance,
               cast(sum(aging.overdue_balance) as {DOUBLE}) as overdue_balance, {buckets}
        from {PUBLISHED_SCHEMA}.receivables_aging as aging
        left join {HISTORY} as history
            on history.customer_id = aging.customer_id and history.as_of_date = aging.as_of_date
        where aging.as_of_date = ?
        group by 1
        order by 1
        """,
        [NOT_TIERED, as_of],
    )


def alerts(con: Connection, as_of: date) -> pd.DataFrame:
    """The alerts holding on `as_of`, with the figures behind each and the day it was
    raised (the first of its unbroken run of as-of dates).

    Only the alerts holding on `as_of` are traced back, and a run's first day is found by
    an anti-join (the alert did not hold on the as-of date before), not by numbering
    every alert row of the history: the history's alerts grow with its length."""
    return frame(
        con,
        f"""
        with days as (
            select as_of_date, dense_rank() over (order by as_of_date) as day_number
            from (select distinct as_of_date from {HISTORY} where as_of_date <= ?) as dated
        ),
        holding as (
            select * from {PUBLISHED_SCHEMA}.customer_alerts where as_of_date = ?
        ),
        held as (
            select earlier.customer_id, earlier.alert_type, days.as_of_date, days.day_number
            from {PUBLISHED_SCHEMA}.customer_alerts as earlier
            inner join holding
                on earlier.customer_id = holding.customer_id
                and earlier.alert_type = holding.alert_type
            inner join days on earlier.as_of_date = days.as_of_date
        ),
        raised as (
            select held.customer_id, held.alert_type, max(held.as_of_date) as raised_on
            from held
            left join held as day_before
                on day_before.customer_id = held.customer_id
                and day_before.alert_type = held.alert_type
                and day_before.day_number = held.day_number - 1
            where day_before.customer_id is null
            group by held.customer_id, held.alert_type
        )
        select holding.alert_category, holding.alert_type, holding.customer_id,
               history.customer_name, holding.tier, holding.metric_value,
               holding.threshold_value, holding.alert_detail, raised.raised_on,
               cast(history.contribution as {DOUBLE}) as contribution,
               cast(history.open_balance as {DOUBLE}) as open_balance,
               cast(history.overdue_balance as {DOUBLE}) as overdue_balance,
               history.worst_days_past_due, history.days_since_last_order
        from holding
        inner join raised
            on raised.customer_id = holding.customer_id and raised.alert_type = holding.alert_type
        left join {HISTORY} as history
            on history.customer_id = holding.customer_id and history.as_of_date = holding.as_of_date
        order by {con.binary_order("holding.alert_category")},
                 {con.binary_order("holding.alert_type")}, history.contribution desc nulls last,
                 {con.binary_order("holding.customer_id")}
        """,
        [as_of, as_of],
    )


def price_exceptions(con: Connection, as_of: date) -> tuple[pd.DataFrame, int]:
    """Price exceptions of the COMPARE_DAYS sales days up to `as_of`, the widest gaps
    first (TABLE_ROWS of them), and how many there are."""
    where = (
        f"from {PUBLISHED_SCHEMA}.price_exceptions"
        f" where as_of_date > ?::date - {COMPARE_DAYS} and as_of_date <= ?"
    )
    count = con.execute(f"select count(*) {where}", [as_of, as_of]).fetchone()[0]
    rows = frame(
        con,
        f"""
        select as_of_date, product_id, customer_id, tier, cast(quantity as {DOUBLE}) as quantity,
               unit_price, reference_customer_id, reference_tier, reference_unit_price,
               price_gap_rate, is_bigger_tier_paying_less
        {where}
        order by price_gap_rate desc, as_of_date desc, {con.binary_order("product_id")},
                 {con.binary_order("customer_id")}
        limit {TABLE_ROWS}
        """,
        [as_of, as_of],
    )
    return rows, count


def rebates(con: Connection, as_of: date) -> pd.DataFrame:
    """Every customer with positive revenue: revenue, rebates, rebate rate and its flag."""
    return frame(
        con,
        f"""
        select customer_id, customer_name, tier, cast(revenue as {DOUBLE}) as revenue,
               cast(rebate_cost as {DOUBLE}) as rebate_cost, rebate_rate,
               coalesce(is_rebate_rate_high, false) as is_rebate_rate_high
        from {HISTORY}
        where as_of_date = ? and revenue > 0
        order by rebate_rate desc nulls last, {con.binary_order("customer_id")}
        """,
        [as_of],
    )


def new_customers(con: Connection, as_of: date) -> tuple[pd.DataFrame, date | None]:
    """New customers per month up to `as_of`, from the latest-only mart (its repeat counts
    are as of its own as-of date, returned too)."""
    months = frame(
        con,
        f"""
        select month_start_date, new_customers, repeat_customers, repeat_rate,
               repeat_within_days_customers, is_first_data_month, is_partial_month, as_of_date
        from {PUBLISHED_SCHEMA}.new_customers_monthly
        where month_start_date <= ?
        order by month_start_date
        """,
        [as_of],
    )
    seen = months["as_of_date"].max() if not months.empty else None
    return months.drop(columns="as_of_date"), (pd.Timestamp(seen).date() if seen else None)


def load(con: Connection, as_of: date) -> ReportData:
    """Every figure of the report as of `as_of` (a date the history holds)."""
    previous = previous_as_of(con, as_of)
    earlier = as_of_days_before(con, as_of, COMPARE_DAYS)
    basis, cut_method = con.execute(
        f"select min(basis), min(cut_method) from {HISTORY} where as_of_date = ?",
        [as_of],
    ).fetchone()
    exceptions, exception_count = price_exceptions(con, as_of)
    months, months_as_of = new_customers(con, as_of)
    return ReportData(
        as_of=as_of,
        previous=previous,
        earlier=earlier,
        basis=basis,
        cut_method=cut_method,
        tiers=tier_figures(con, as_of, previous, earlier),
        pareto=pareto(con, as_of),
        cuts=cut_counts(con, as_of),
        migration=migration(con, as_of, earlier),
        ageing=ageing(con, as_of),
        alerts=alerts(con, as_of),
        price_exceptions=exceptions,
        price_exception_count=exception_count,
        rebates=rebates(con, as_of),
        new_customers=months,
        new_customers_as_of=months_as_of,
    )
