"""Read the published tables back: the tier summary printed after a run, and the BI snapshot
(a copy of the published tables that BI tools read without locking the warehouse)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
from rich.console import Console
from rich.table import Table

from customer_tiering.load import connect

PUBLISHED_SCHEMA = "marts"


def tier_summary(warehouse: Path) -> pd.DataFrame:
    """Customers, contribution and share per tier in the latest `customer_tiers`."""
    with connect(warehouse, read_only=True) as con:
        return con.execute(
            f"""
            select tier,
                   count(*) as customers,
                   sum(contribution) as contribution,
                   sum(revenue) as revenue,
                   sum(greatest(contribution, 0))
                       / nullif(sum(sum(greatest(contribution, 0))) over (), 0) as share,
                   any_value(basis) as basis,
                   any_value(cut_method) as cut_method,
                   max(as_of_date) as as_of_date
            from {PUBLISHED_SCHEMA}.customer_tiers
            group by tier
            order by tier
            """
        ).df()


def top_customers(warehouse: Path, limit: int = 10) -> pd.DataFrame:
    """The largest contributors in the latest `customer_tiers`, with what the rules said."""
    with connect(warehouse, read_only=True) as con:
        return con.execute(
            f"""
            select customer_id, customer_name, tier, abc_tier, contribution, share, reason_codes
            from {PUBLISHED_SCHEMA}.customer_tiers
            order by contribution desc, customer_id
            limit ?
            """,
            [limit],
        ).df()


def print_tier_summary(warehouse: Path, console: Console) -> None:
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


# DuckDB storage version of the BI snapshot: readable by the DuckDB that BI drivers bundle
# (duckdb-engine, DBeaver), which may be older than the pipeline's DuckDB.
SNAPSHOT_STORAGE_VERSION = "v1.4.0"


def bi_snapshot_path(warehouse: Path) -> Path:
    """The read-only copy of the published tables that BI tools open: `bi/` beside the
    warehouse file."""
    return warehouse.resolve().parent / "bi" / f"{warehouse.stem}.duckdb"


def export_snapshot(warehouse: Path, target: Path, schema: str = PUBLISHED_SCHEMA) -> list[str]:
    """Copy every table and view of `schema` into a new DuckDB file and swap it in over
    `target` atomically; return the tables copied.

    BI tools read the snapshot, never the warehouse: DuckDB has one writer per file and a
    reader holding the warehouse open would block the next load. Readers of the old
    snapshot keep their view; new connections see the new tables."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    # An in-memory session attaching the warehouse read-only (under its own name, which
    # dbt's views refer to) and the new file read-write.
    source = warehouse.stem
    con = duckdb.connect()
    try:
        con.execute(f"attach '{warehouse.resolve()}' as \"{source}\" (read_only)")
        con.execute(f"attach '{tmp}' as snapshot (storage_version '{SNAPSHOT_STORAGE_VERSION}')")
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables"
                " where table_catalog = ? and table_schema = ? order by table_name",
                [source, schema],
            ).fetchall()
        ]
        con.execute(f"create schema snapshot.{schema}")
        for name in names:
            con.execute(
                f'create table snapshot.{schema}."{name}" as'
                f' select * from "{source}".{schema}."{name}"'
            )
        con.execute("detach snapshot")
    finally:
        con.close()
    os.replace(tmp, target)
    return names
