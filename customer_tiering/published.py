"""Reading the published tier tables for people: which file, which as-of date.

The report, `explain` and `whatif` read the BI snapshot (`bi/<name>.duckdb`, the published
schema `marts` copied after every publish): a build holds the warehouse itself under its
exclusive lock for minutes, the snapshot never. Dates are as-of dates of
`customer_tier_history`; a date with no history is a usage error (exit 2).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from customer_tiering.errors import ConfigError
from customer_tiering.publish import HISTORY_TABLE, PUBLISHED_SCHEMA, bi_snapshot_path
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse

HISTORY = f"{PUBLISHED_SCHEMA}.{HISTORY_TABLE}"
TIERS = ("A", "B", "C", "D")


@contextmanager
def open_snapshot(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the BI snapshot of `warehouse`."""
    snapshot = bi_snapshot_path(warehouse)
    if not snapshot.exists():
        raise ConfigError(
            f"no published tiers for {warehouse}: {snapshot} is missing (run `tiering run` first)"
        )
    with DuckDBWarehouse(snapshot).connect(read_only=True) as con:
        yield con.duck


def history_range(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """(first, last) as-of date of the published tier history."""
    first, last = con.execute(f"select min(as_of_date), max(as_of_date) from {HISTORY}").fetchone()
    return first, last


def resolve_as_of(con: duckdb.DuckDBPyConnection, requested: date | None) -> date:
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


def previous_as_of(con: duckdb.DuckDBPyConnection, day: date) -> date | None:
    """The as-of date before `day` in the history (None for the first)."""
    return con.execute(
        f"select max(as_of_date) from {HISTORY} where as_of_date < ?", [day]
    ).fetchone()[0]


def as_of_days_before(con: duckdb.DuckDBPyConnection, day: date, days: int) -> date | None:
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
