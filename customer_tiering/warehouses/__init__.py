"""The warehouse a run loads, builds and publishes into: a DuckDB file, a Postgres database,
or a DuckDB catalog with raw Parquet built on Spark.

`open_warehouse(settings)` picks the implementation from the `target` setting (duckdb,
postgres, spark; customer_tiering.warehouses.spark says what the spark target keeps where).
The implementations serve the same schemas (`raw`, dbt's `staging`,
`intermediate`, `seeds`, `marts_build`, and the published `marts`) and expose the same small
surface, so load, transform, publish and the pipeline are written once:

- `Warehouse`: connect, whether anything was ever loaded, the dbt target and its
  environment, a lock that serializes runs on the warehouse itself (beside the file lock of
  customer_tiering.lock), where people read the published tables.
- `Connection`: execute SQL with `?` parameters (the rows come back through `fetchall`,
  `fetchone`, `df`, `arrow`), transactions, bulk-loading a DataFrame into a typed temp table
  (DuckDB: register and insert; Postgres: COPY), table and column introspection, the few
  statements whose spelling differs (create table like the build's, an order-independent
  row checksum, replacing a table, text sorted by code point), reader grants, a read that
  sees one committed state, and Parquet files written from a query (the export,
  customer_tiering.exports).

SQL written against a Connection is the common subset of both dialects; whatever differs
is a method here. The `warehouse` setting always names a local file path: on DuckDB the
warehouse itself, on Postgres only the folder for dbt state, reports, run folders and the
lock file (see customer_tiering.warehouses.postgres).
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

from customer_tiering.contract import BUSINESS_DATE

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from customer_tiering.config import Settings

TargetName = Literal["duckdb", "postgres", "spark"]
TARGETS: tuple[str, ...] = get_args(TargetName)


class Result(Protocol):
    """The rows of an executed statement (DuckDB's own connection fits this)."""

    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...
    def df(self) -> pd.DataFrame: ...


class Connection(ABC):
    """An open warehouse connection. SQL takes `?` placeholders on both engines."""

    kind: str  # "duckdb" or "postgres"

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Result:
        """Run one statement; its rows through the result."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A block run in one transaction: committed at its end, rolled back on any error."""

    @abstractmethod
    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """The rows of a query as an Arrow table."""

    @abstractmethod
    def stage(self, name: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
        """(Re)create temp table `name` holding `frame`'s columns `types` (column -> contract
        type), each value cast to its type as the engine casts it."""

    @abstractmethod
    def replace_table(
        self, name: str, select: str, params: Sequence[Any] | None = None, temp: bool = False
    ) -> None:
        """(Re)create table `name` as the result of `select`."""

    @abstractmethod
    def sql_type(self, contract_type: str) -> str:
        """The engine's spelling of a contract type (customer_tiering.contract)."""

    @abstractmethod
    def row_checksum(self, columns: str) -> str:
        """An aggregate SQL expression: an order-independent digest (as text) of the typed
        values of `columns` over a group's rows, '0' for no rows."""

    @abstractmethod
    def binary_order(self, expression: str) -> str:
        """`expression` (text) for an ORDER BY that sorts by code point on every engine,
        so readers list rows in one order whatever the database's collation (an ERP id
        `SO-2024-1` sorts apart from `SO2024` only by its punctuation)."""

    @abstractmethod
    def columns(self, schema: str, table: str) -> dict[str, str]:
        """Column -> full type (precision included) of a table, in table order."""

    @abstractmethod
    def create_like(self, source_schema: str, target_schema: str, table: str) -> None:
        """Create `target_schema.table` empty, with the DDL of `source_schema.table` (types
        and the constraints of the dbt contract)."""

    @abstractmethod
    def grant_readers(self, schema: str) -> None:
        """Let the read-only role read every table of `schema`, inside the publish
        transaction (a replaced table has lost its grants)."""

    @abstractmethod
    def checkpoint(self) -> None:
        """Make committed work durable in the warehouse's own storage."""

    @abstractmethod
    def consistent_read(self) -> AbstractContextManager[None]:
        """A block whose statements all read one committed state, however long it runs:
        an export reads the publication record and every published table in one, so they
        cannot come from two publishes."""

    def replace_raw_days(self, table: str) -> None:
        """Replace the changed partitions of raw.`table` with the staged rows (temp tables
        `staged` and `changed_days` of customer_tiering.load.stage_table), inside the
        load's transaction. Where raw tables are tables (DuckDB, Postgres): delete and
        insert; the spark target writes Parquet partitions instead."""
        self.execute(
            f"delete from raw.{table} where {BUSINESS_DATE} in"
            " (select business_date from changed_days)"
        )
        self.execute(
            f"""
            insert into raw.{table}
            select s.*, current_timestamp from staged as s
            join changed_days as c on c.business_date = s.{BUSINESS_DATE}
            where c.is_stored
            """
        )

    @abstractmethod
    def write_parquet(self, select: str, path: Path, partition_by: str | None = None) -> int:
        """Write the rows of `select` as Parquet with DuckDB's writer (so both engines
        write the same column types: DECIMAL(p,s), DATE, LIST); return the rows written.
        Without `partition_by`: one file `path`. With it: a folder `path` holding, per value
        of that column, `<column>=<value>/` with one Parquet file (named as the engine
        names it) without the column (hive partitions); nothing for no rows. Memory stays
        bounded: a batch of rows (whole partitions) at a time."""

    def table_exists(self, schema: str, table: str) -> bool:
        return bool(
            self.execute(
                "select count(*) from information_schema.tables"
                " where table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchone()[0]
        )


class Warehouse(ABC):
    """Where a run's data lives; `local` is the path the `warehouse` setting names."""

    kind: str
    local: Path

    @property
    def dbt_target(self) -> str:
        """The output of dbt_project/profiles.yml that builds this warehouse."""
        return self.kind

    @abstractmethod
    def connect(self, read_only: bool = False) -> AbstractContextManager[Connection]:
        """An open connection for the block, always closed."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether anything was ever loaded (else there is nothing to read yet)."""

    @abstractmethod
    def dbt_env(self) -> dict[str, str]:
        """The environment dbt's profile reads this warehouse's connection from."""

    def dbt_python(self) -> str:
        """The Python that runs dbt for this warehouse: the pipeline's own, except on
        Spark (dbt-spark lives in `.venv-spark`, away from Great Expectations)."""
        return sys.executable

    def prepare_build(self) -> None:  # noqa: B027 (a hook: most warehouses need nothing)
        """Make ready what dbt reads besides the warehouse's tables (Spark: the Parquet
        copies of the ledger and the published history); nothing elsewhere."""

    @abstractmethod
    def lock(
        self,
        exclusive: bool,
        timeout: float,
        purpose: str,
        on_wait: Callable[[str], None] | None = None,
    ) -> AbstractContextManager[None]:
        """A lock on the warehouse itself, for what the local file lock cannot see (runs on
        other machines); taken inside the file lock by customer_tiering.lock."""

    @abstractmethod
    def published(self) -> Warehouse:
        """Where people and BI read the published tables without waiting for a build."""

    @property
    def has_snapshot(self) -> bool:
        """Whether publishing also writes the BI snapshot file (`bi/<name>.duckdb`)."""
        return False

    def describe(self) -> str:
        return str(self.local)


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse the settings name. ConfigError (exit 2) for a target that cannot run
    yet (spark without `.venv-spark`) or a Postgres URL that is missing or malformed,
    before anything is pulled."""
    if settings.target == "postgres":
        from customer_tiering.warehouses.postgres import PostgresWarehouse

        return PostgresWarehouse.from_environment(settings.warehouse)
    if settings.target == "spark":
        from customer_tiering.config import PROJECT_ROOT
        from customer_tiering.warehouses.spark import SparkWarehouse

        return SparkWarehouse(settings.warehouse, PROJECT_ROOT)
    from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse

    return DuckDBWarehouse(settings.warehouse)
