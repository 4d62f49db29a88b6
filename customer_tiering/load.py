"""Raw load: land pulled batches in the warehouse's `raw` schema, one partition per day.

Each (table, business day) partition is replaced inside one transaction for the whole
pull, so a rerun never duplicates rows and a failed load leaves nothing half-written.
A ledger (`raw._batches`) keeps a checksum per partition: a re-pulled day whose content
did not change is not rewritten, and the days that did change tell the transform from
which as-of date history must be recomputed. Those days wait in `raw._pending`, written in
the same transaction, until a publish has recomputed them (customer_tiering.publish), so a
run that fails after its load leaves the next run to recompute them.

Where the rows go is the Connection's (`replace_raw_days`): a delete and insert in the
raw table on DuckDB and Postgres, Parquet partitions moved in at the commit on the spark
target (customer_tiering.warehouses.spark). The same SQL runs on every warehouse
(customer_tiering.warehouses): a batch is staged into a typed temp table (DuckDB: the
registered DataFrame cast; Postgres: COPY), and the checksums are each engine's own
order-independent row hash, so a ledger is compared only with itself.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from customer_tiering.contract import BUSINESS_DATE, LOADED_AT, TABLES
from customer_tiering.warehouses import Connection

LEDGER = "raw._batches"
Batches = dict[str, tuple[pd.DataFrame, list[date]]]
PENDING = "raw._pending"


def days_frame(days: list[date]) -> pd.DataFrame:
    """Business days as a one-column frame, for Connection.stage."""
    return pd.DataFrame({"business_date": pd.Series(days, dtype="object")})


def ensure_raw_schema(con: Connection) -> None:
    """Create `raw` tables from the contract (typed: money is DECIMAL, never float), and
    bring tables of an older contract up to this one."""
    con.execute("create schema if not exists raw")
    for spec in TABLES.values():
        columns = ", ".join(
            f"{name} {con.sql_type(sql_type)}" for name, sql_type in spec.columns.items()
        )
        con.execute(
            f"create table if not exists raw.{spec.name} ("
            f"{columns}, {BUSINESS_DATE} date not null, {LOADED_AT} timestamp not null)"
        )
    con.execute(
        f"create table if not exists {LEDGER} ("
        "table_name varchar not null, business_date date not null, row_count bigint not null,"
        " checksum varchar not null, loaded_at timestamp not null,"
        " primary key (table_name, business_date))"
    )
    con.execute(f"create table if not exists {PENDING} (business_date date primary key)")
    if con.kind == "duckdb":  # Postgres warehouses were never written by the older contract
        migrate_text_columns(con)


def migrate_text_columns(con: Connection) -> list[str]:
    """Turn raw columns that the contract types VARCHAR but an older contract stored
    otherwise (document ids were BIGINT) into VARCHAR, and return them as `table.column`.

    An integer id becomes its decimal text, as a source now delivers it. The ledger's
    checksums hash typed values, so those of a migrated table are recomputed from its
    stored rows: an unchanged day re-pulled later still counts as unchanged. All in one
    transaction, so a warehouse is either wholly migrated or not at all."""
    stored = con.execute(
        "select table_name, column_name, data_type from information_schema.columns"
        " where table_schema = 'raw'"
    ).fetchall()
    stale = [
        (table, column)
        for table, column, data_type in stored
        if table in TABLES
        and TABLES[table].columns.get(column) == "VARCHAR"
        and data_type != "VARCHAR"
    ]
    if not stale:
        return []
    with con.transaction():
        for table, column in stale:
            con.execute(f"alter table raw.{table} alter column {column} type varchar")
        for table in dict.fromkeys(table for table, _ in stale):
            column_list = ", ".join(TABLES[table].columns)
            con.execute(
                f"""
                update {LEDGER} as ledger set checksum = stored.checksum
                from (
                    select {BUSINESS_DATE} as business_date,
                           {con.row_checksum(column_list)} as checksum
                    from raw.{table}
                    group by {BUSINESS_DATE}
                ) as stored
                where ledger.table_name = ? and ledger.business_date = stored.business_date
                """,
                [table],
            )
    return [f"{table}.{column}" for table, column in stale]


def loaded_days(con: Connection, table: str) -> set[date]:
    """Business days of `table` already in the warehouse."""
    rows = con.execute(
        f"select business_date from {LEDGER} where table_name = ?", [table]
    ).fetchall()
    return {row[0] for row in rows}


def stage_table(con: Connection, table: str, frame: pd.DataFrame, days: list[date]) -> list[date]:
    """Stage `frame` (which carries `_business_date`) for the partitions `days` of
    raw.`table` in temp tables and return the days whose content differs from what is
    stored. Writes nothing but temp tables, so it also runs on a read-only connection."""
    spec = TABLES[table]
    con.stage("staged", frame, {**spec.columns, BUSINESS_DATE: "DATE"})
    con.stage("staged_days", days_frame(days), {"business_date": "DATE"})
    column_list = ", ".join(spec.columns)
    # Order-independent content hash per day, computed on typed values.
    con.replace_table(
        "staged_checksums",
        f"""
        select d.business_date,
               count(s.{spec.key}) as row_count,
               {con.row_checksum(column_list)} as checksum
        from staged_days as d
        left join staged as s on s.{BUSINESS_DATE} = d.business_date
        group by d.business_date
        """,
        temp=True,
    )
    if spec.is_master:
        # A snapshot equal to the one before it (stored or in this batch) adds nothing and
        # is neither stored nor entered in the ledger: masters change rarely, daily copies
        # would swamp raw, and a range run (which pulls only changed snapshots) must leave
        # the same ledger as daily runs. A stored snapshot that an earlier day loaded now
        # (days out of order) makes redundant is removed, so any order of the same days
        # leaves the same raw tables.
        con.replace_table(
            "master_checksums",
            f"""
            with snapshots as (
                select business_date, row_count, checksum, true as is_staged
                from staged_checksums
                union all
                select business_date, row_count, checksum, false from {LEDGER}
                where table_name = ?
                    and business_date not in (select business_date from staged_days)
            ),
            compared as (
                select *, checksum is distinct from lag(checksum) over (order by business_date)
                    as is_stored
                from snapshots
            )
            select business_date, row_count, checksum, is_stored from compared
            where is_staged or not is_stored
            """,
            [table],
            temp=True,
        )
        checksums = "master_checksums"
    else:
        con.execute("alter table staged_checksums add column is_stored boolean default true")
        checksums = "staged_checksums"
    # Changed: stored content differs from the ledger, or a day once stored is now redundant.
    con.replace_table(
        "changed_days",
        f"""
        select c.* from {checksums} as c
        left join {LEDGER} as l on l.table_name = ? and l.business_date = c.business_date
        where (c.is_stored and l.checksum is distinct from c.checksum)
            or (not c.is_stored and l.business_date is not null)
        """,
        [table],
        temp=True,
    )
    return [
        row[0]
        for row in con.execute("select business_date from changed_days order by 1").fetchall()
    ]


def load_table(con: Connection, table: str, frame: pd.DataFrame, days: list[date]) -> list[date]:
    """Replace the partitions `days` of raw.`table` with `frame`; return the days whose
    content changed. Runs inside the caller's transaction. A day in `days` with no rows in
    `frame` is a delivered empty day."""
    changed = stage_table(con, table, frame, days)
    con.replace_raw_days(table)
    con.execute(
        f"delete from {LEDGER} where table_name = ?"
        " and business_date in (select business_date from changed_days)",
        [table],
    )
    con.execute(
        f"insert into {LEDGER} select ?, business_date, row_count, checksum,"
        " current_timestamp from changed_days where is_stored",
        [table],
    )
    return changed


def changed_partitions(con: Connection, batches: Batches) -> dict[str, list[date]]:
    """The partitions loading `batches` would change, found without writing anything."""
    return {table: stage_table(con, table, frame, days) for table, (frame, days) in batches.items()}


def load(con: Connection, batches: Batches) -> dict[str, list[date]]:
    """Load every table's batch in one transaction; return the changed days per table."""
    ensure_raw_schema(con)
    with con.transaction():
        changed = {
            table: load_table(con, table, frame, days) for table, (frame, days) in batches.items()
        }
        days = sorted({day for table_days in changed.values() for day in table_days})
        if days:
            con.stage("pending_days", days_frame(days), {"business_date": "DATE"})
            con.execute(
                f"insert into {PENDING} select business_date from pending_days"
                f" where business_date not in (select business_date from {PENDING})"
            )
    return changed


def first_pending_day(con: Connection) -> date | None:
    """The earliest loaded day no publish has recomputed yet."""
    return con.execute(f"select min(business_date) from {PENDING}").fetchall()[0][0]


def first_loaded_day(con: Connection, tables: tuple[str, ...]) -> date | None:
    """The earliest business day of any of `tables` in the warehouse."""
    listed = ", ".join("?" for _ in tables)
    return con.execute(
        f"select min(business_date) from {LEDGER} where table_name in ({listed})", list(tables)
    ).fetchall()[0][0]
