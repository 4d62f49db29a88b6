"""The sql source: the distributor's ERP database, read through SQLAlchemy.

The connection URL comes from the environment variable named by the `sql_url_env`
setting (never from a committed file). Each input table has a query template binding
`:start` and `:end` (the business days pulled); the defaults below read tables named as
in the contract, and `sql_queries` in tiering.yml replaces any of them with the ERP's own
SQL (joins, renames) as long as it returns the contract's columns.

Master tables hold the current state only, so the snapshot read is dated on the first
day pulled (`_business_date` = start): what the ERP says now applies from that day on.
"""

from __future__ import annotations

import os
from datetime import date

import pandas as pd
import sqlalchemy

from customer_tiering.contract import BUSINESS_DATE, TABLES
from customer_tiering.errors import ConfigError
from customer_tiering.sources.conform import conform


def default_query(table: str) -> str:
    """select <contract columns> from <table> [where <date column> between :start and :end]"""
    spec = TABLES[table]
    query = f"select {', '.join(spec.columns)} from {table}"
    if not spec.is_master:
        query += f" where {spec.date_column} between :start and :end"
    return query


class SqlSource:
    """Input tables from an ERP database."""

    name = "sql"

    def __init__(self, url: str, queries: dict[str, str] | None = None) -> None:
        unknown = sorted(set(queries or {}) - set(TABLES))
        if unknown:
            raise ConfigError(f"sql_queries: unknown table(s) {', '.join(unknown)}")
        self.queries = {table: default_query(table) for table in TABLES} | (queries or {})
        try:
            self.engine = sqlalchemy.create_engine(url)
        except (sqlalchemy.exc.ArgumentError, ImportError) as exc:
            raise ConfigError(f"sql source: cannot use the database URL: {exc}") from exc

    @classmethod
    def from_environment(cls, variable: str, queries: dict[str, str]) -> SqlSource:
        """The source whose URL is in environment variable `variable`."""
        url = os.environ.get(variable)
        if not url:
            raise ConfigError(f"sql source: set the database URL in ${variable}")
        return cls(url, queries)

    def pull_range(
        self, table: str, start: date, end: date, known_at: date | None = None
    ) -> pd.DataFrame:
        """Rows of `table` for start..end as the ERP holds them now (`known_at` cannot be
        honoured by a database without history)."""
        query = sqlalchemy.text(self.queries[table])
        bound = {"start": start, "end": end}
        unknown = sorted(set(query.compile().params) - set(bound))
        if unknown:
            raise ConfigError(f"query for {table} binds unknown parameter(s) {unknown}")
        wanted = {name: bound[name] for name in query.compile().params}
        with self.engine.connect() as connection:
            frame = pd.read_sql(query, connection, params=wanted)
        frame = conform(table, frame)
        if TABLES[table].is_master:
            frame[BUSINESS_DATE] = pd.Timestamp(start)
        return frame
