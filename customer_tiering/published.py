"""Reading the published tier tables: where, which publication, which as-of date.

Where readers read them (`read_published`): on DuckDB the BI snapshot (`bi/<name>.duckdb`,
the published schema `marts` copied after every publish): a build holds the warehouse
itself under its exclusive lock for minutes, the snapshot never, and a new snapshot is
swapped in whole. On Postgres schema `marts` itself, in one REPEATABLE READ transaction
with the publication record, under the warehouse lock held shared (`reading_lock`): a
publish there drops and re-creates the latest-only tables and the publication record
(every table on a full refresh), and a transaction whose snapshot is older than that
publish reads such a table as empty (checked on Postgres 15); so a long read and a run
take turns. The Parquet export reads through these on both targets.

The report, `explain` and `whatif` read through the same path (`reading`: the lock, then
`read_published`), on either target, and their SQL is the subset both engines speak; rows
come back through Arrow (`frame`, `records`), typed from the warehouse's column types, so
the same published rows give the same frames and values on DuckDB and on Postgres. What
differs in spelling is a Connection method (`binary_order`: text sorted by code point,
DuckDB's order; Postgres would sort by the database's collation otherwise). Dates are
as-of dates of `customer_tier_history`; a date with no history is a usage error (exit 2).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from customer_tiering import lock
from customer_tiering.config import Settings
from customer_tiering.errors import ConfigError
from customer_tiering.publish import (
    HISTORY_TABLE,
    PUBLISHED_SCHEMA,
    bi_snapshot_path,
    last_publication,
    snapshot_marker,
)
from customer_tiering.warehouses import Connection, Warehouse, open_warehouse

HISTORY = f"{PUBLISHED_SCHEMA}.{HISTORY_TABLE}"
TIERS = ("A", "B", "C", "D")


def publication_stamp(warehouse: Warehouse) -> str:
    """The publication readers see now, as its `published_at` (raw._published): on DuckDB
    the one the BI snapshot holds (its marker), elsewhere the last publish. ConfigError
    (exit 2) when nothing is published yet."""
    if not warehouse.has_snapshot:
        with warehouse.connect(read_only=True) as con:
            return _recorded_stamp(con, warehouse)
    snapshot = bi_snapshot_path(warehouse.local)
    marker = snapshot_marker(snapshot)
    if not (snapshot.exists() and marker.exists()):
        raise ConfigError(
            f"no published tables for {warehouse.local}: {snapshot} is missing"
            " (run `tiering run` first)"
        )
    return marker.read_text(encoding="utf-8")


def _recorded_stamp(con: Connection, warehouse: Warehouse) -> str:
    publication = last_publication(con)
    if publication is None or not con.table_exists(PUBLISHED_SCHEMA, HISTORY_TABLE):
        raise ConfigError(
            f"no published tables in {warehouse.describe()}"
            f" (run `tiering run --target {warehouse.kind}` first)"
        )
    return publication.published_at


@contextmanager
def read_published(warehouse: Warehouse) -> Iterator[tuple[Connection, str]]:
    """A read-only connection on the published tables (schema marts) as one publication
    left them, and that publication's stamp (publication_stamp). On DuckDB the stamp is
    read before the snapshot is opened: a snapshot swapped in meanwhile is newer, never
    older, so the stamp can only understate what was read. Elsewhere both come from one
    transaction; hold `reading_lock` around it."""
    if warehouse.has_snapshot:
        stamp = publication_stamp(warehouse)
        with warehouse.published().connect(read_only=True) as con:
            yield con, stamp
        return
    with warehouse.connect(read_only=True) as con, con.consistent_read():
        yield con, _recorded_stamp(con, warehouse)


def reading_lock(
    settings: Settings, warehouse: Warehouse, purpose: str
) -> AbstractContextManager[None]:
    """What a long read of the published tables holds: nothing on DuckDB (the snapshot
    file is replaced whole, never changed), the warehouse lock shared elsewhere (the file
    lock and the server's advisory lock, as a run's `prepare` takes it), so no publish
    lands while it reads. Re-entrant inside a run, which holds it exclusively."""
    if warehouse.has_snapshot:
        return nullcontext()
    timeout = settings.lock_timeout_seconds
    return lock.warehouse_lock(
        warehouse.local,
        exclusive=False,
        timeout=timeout,
        purpose=purpose,
        server=warehouse.lock(False, timeout, purpose),
    )


@contextmanager
def reading(settings: Settings, purpose: str) -> Iterator[Connection]:
    """A read-only connection on the published tables for a reader of the people's
    commands (report, explain, whatif), on either target: the warehouse lock held shared
    where a publish could change the tables mid-read (reading_lock), then
    `read_published`. ConfigError (exit 2) when nothing is published yet."""
    warehouse = open_warehouse(settings)
    with reading_lock(settings, warehouse, purpose), read_published(warehouse) as (con, _):
        yield con


def frame(con: Connection, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
    """The rows of a query as a DataFrame, the same on both engines: through Arrow, each
    column typed from its SQL type (not from the driver's Python values, which differ:
    DuckDB's own DataFrames make DECIMAL a float, psycopg's rows keep Decimal objects).
    DECIMAL becomes float64 and DATE datetime64, as DuckDB's DataFrames have them: the
    report's frames carry floats for the charts and print cents."""
    table = con.arrow(sql, params)
    for index, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(index, field.name, pc.cast(table.column(index), pa.float64()))
    return table.to_pandas(date_as_object=False)


def records(con: Connection, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """The rows of a query as dicts of Python values typed from the SQL types (Decimal,
    date, int, float, str), the same on both engines."""
    return con.arrow(sql, params).to_pylist()


def history_range(con: Connection) -> tuple[date | None, date | None]:
    """(first, last) as-of date of the published tier history."""
    first, last = con.execute(f"select min(as_of_date), max(as_of_date) from {HISTORY}").fetchone()
    return first, last


def resolve_as_of(con: Connection, requested: date | None) -> date:
    """`requested`, if the history holds it, else the latest as-of date; ConfigError (exit 2)
    for a date with no results."""
    first, last = history_range(con)
    if last is None:
        raise ConfigError("the published tier history is empty: no as-of date to show")
    if requested is None:
        return last
    found = con.execute(
        f"select count(*) from {HISTORY} where as_of_date = ?", [requested]
    ).fetchone()[0]
    if not found:
        raise ConfigError(
            f"no tier results as of {requested}: the published history holds {first}..{last}"
            " (days that were loaded)"
        )
    return requested


def previous_as_of(con: Connection, day: date) -> date | None:
    """The as-of date before `day` in the history (None for the first)."""
    return con.execute(
        f"select max(as_of_date) from {HISTORY} where as_of_date < ?", [day]
    ).fetchone()[0]


def as_of_days_before(con: Connection, day: date, days: int) -> date | None:
    """The as-of date `days` before `day`: the latest on or before it, or the first of a
    shorter history (None when `day` is the first)."""
    found = con.execute(
        f"select coalesce(max(as_of_date) filter (where as_of_date <= ?), min(as_of_date))"
        f" from {HISTORY}",
        [day - timedelta(days=days)],
    ).fetchone()[0]
    return found if found is not None and found < day else None


def alert_figure(value: Any) -> str:
    """An alert's figure or threshold as a person reads it: a ratio or a share with three
    significant digits, days or an amount of money in full."""
    if value is None or value != value:  # None or NaN
        return "—"
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.3g}"
