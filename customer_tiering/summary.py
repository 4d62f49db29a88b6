"""The tier summary printed after a run, read back from the published tables where people
read them (Warehouse.published: the BI snapshot of a DuckDB warehouse, which holds the same
schema, or the Postgres warehouse itself), in SQL both engines speak."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table

from customer_tiering.publish import PUBLISHED_SCHEMA
from customer_tiering.warehouses import Warehouse


def tier_summary(warehouse: Warehouse) -> pd.DataFrame:
    """Customers, contribution and share per tier in the latest `customer_tiers`."""
    with warehouse.connect(read_only=True) as con:
        return con.execute(
            f"""
            select tier,
                   count(*) as customers,
                   sum(contribution) as contribution,
                   sum(revenue) as revenue,
                   sum(greatest(contribution, 0))
                       / nullif(sum(sum(greatest(contribution, 0))) over (), 0) as share,
                   min(basis) as basis,
                   min(cut_method) as cut_method,
                   max(as_of_date) as as_of_date
            from {PUBLISHED_SCHEMA}.customer_tiers
            group by tier
            order by tier
            """
        ).df()


def top_customers(warehouse: Warehouse, limit: int = 10) -> pd.DataFrame:
    """The largest contributors in the latest `customer_tiers`, with what the rules said."""
    with warehouse.connect(read_only=True) as con:
        return con.execute(
            f"""
            select customer_id, customer_name, tier, abc_tier, contribution, share, reason_codes
            from {PUBLISHED_SCHEMA}.customer_tiers
            order by contribution desc, customer_id
            limit ?
            """,
            [limit],
        ).df()


def print_tier_summary(warehouse: Warehouse, console: Console) -> None:
    """Print the tier summary as a table a sales manager can read."""
    summary = tier_summary(warehouse)
    if summary.empty:
        console.print("customer_tiers is empty: no customer bought in the window")
        return
    first = summary.iloc[0]
    table = Table(
        title=f"Customer tiers as of {first.as_of_date:%Y-%m-%d} "
        f"(basis {first.basis}, cut {first.cut_method})"
    )
    for column in ("tier", "customers", "contribution", "revenue", "share"):
        table.add_column(column, justify="left" if column == "tier" else "right")
    for row in summary.itertuples():
        table.add_row(
            row.tier,
            f"{row.customers:,}",
            f"{row.contribution:,.2f}",
            f"{row.revenue:,.2f}",
            f"{row.share:.1%}",
        )
    console.print(table)
    top = Table(title="Largest contributors")
    for column in ("customer", "name", "tier", "abc", "contribution", "share", "reasons"):
        top.add_column(column, justify="right" if column in ("contribution", "share") else "left")
    top_rows = top_customers(warehouse)
    labels = ["customer_name", "reason_codes"]
    top_rows[labels] = top_rows[labels].astype("object").where(top_rows[labels].notna(), "")
    for row in top_rows.itertuples():
        top.add_row(
            row.customer_id,
            row.customer_name,
            row.tier,
            row.abc_tier,
            f"{row.contribution:,.2f}",
            f"{row.share:.1%}",
            row.reason_codes,
        )
    console.print(top)
