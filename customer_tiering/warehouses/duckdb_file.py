"""The embedded default: the warehouse is one DuckDB file (`warehouse` setting).

DuckDB allows one writer per file and a reader holding it open blocks the writer, so
people and BI read the BI snapshot beside it (`bi/<name>.duckdb`, customer_tiering.publish),
never the warehouse; a run's lock is the file lock of customer_tiering.lock alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from customer_tiering.errors import TieringError
from customer_tiering.warehouses import Connection, Warehouse

# The path dbt's duckdb output opens (dbt_project/profiles.yml).
WAREHOUSE_ENV = "TIERING_WAREHOUSE"
# DuckDB's memory cap, for dbt's session (profiles.yml reads the same variable) and for
# every connection of the pipeline's own. Beyond it DuckDB spills to `<file>.tmp`.
# 2.5GB keeps a whole run (this process and dbt's, one DuckDB open at a time) within 4 GB
# at 20,000 customers over two years (3.91 GB; 3GB peaked at 4.36 GB and was 9% faster;
# README "At the benchmark scale"); DuckDB's own default, 80 % of RAM, would let one big
# publish or model take the machine.
MEMORY_ENV = "TIERING_DUCKDB_MEMORY"
DEFAULT_MEMORY_LIMIT = "2.5GB"


def memory_limit() -> str:
    """The memory cap every DuckDB session of a run gets: $TIERING_DUCKDB_MEMORY or 2.5GB."""
    return os.environ.get(MEMORY_ENV) or DEFAULT_MEMORY_LIMIT


def connect_duckdb(
    database: str = ":memory:", read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection under the run's memory cap: every connection the pipeline opens
    (the warehouse, and in-memory sessions that attach files to copy between them)."""
    return duckdb.connect(database, read_only=read_only, config={"memory_limit": memory_limit()})


def sql_path(path: Path) -> str:
    """`path` as an SQL string literal (for COPY ... TO and ATTACH)."""
    return "'" + str(path).replace("'", "''") + "'"


def bi_snapshot_path(warehouse: Path) -> Path:
    """The read-only copy of the published tables that BI tools open: `bi/` beside the
    warehouse file."""
    return warehouse.resolve().parent / "bi" / f"{warehouse.stem}.duckdb"


class DuckDBConnection(Connection):
    """A DuckDB connection; `duck` is DuckDB's own, for DuckDB-only readers."""

    kind = "duckdb"

    def __init__(self, duck: duckdb.DuckDBPyConnection) -> None:
        self.duck = duck

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        return self.duck.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.duck.begin()
        try:
            yield
        except BaseException:
            self.duck.rollback()
            raise
        self.duck.commit()

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Through a relation (no extra copy of the rows, as a DB-API result's Arrow
        makes), after running any earlier `execute` to its end: DuckDB 2.0 refuses a
        relation beside an unfinished result, which one read with `fetchone` still is."""
        self.duck.complete()
        return self.duck.sql(sql, params=params).to_arrow_table()

    def stage(self, name: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
        casts = ", ".join(f"cast({column} as {kind}) as {column}" for column, kind in types.items())
        self.duck.register("pulled_frame", frame)
        try:
            self.duck.execute(
                f"create or replace temp table {name} as select {casts} from pulled_frame"
            )
        finally:
            self.duck.unregister("pulled_frame")

    def replace_table(
        self, name: str, select: str, params: Sequence[Any] | None = None, temp: bool = False
    ) -> None:
        self.duck.execute(
            f"create or replace {'temp ' if temp else ''}table {name} as {select}", params
        )

    def sql_type(self, contract_type: str) -> str:
        return contract_type

    def row_checksum(self, columns: str) -> str:
        return f"cast(coalesce(sum(hash({columns})), 0) as varchar)"

    def binary_order(self, expression: str) -> str:
        """As it is: DuckDB compares text by code point unless told otherwise."""
        return expression

    def columns(self, schema: str, table: str) -> dict[str, str]:
        rows = self.duck.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
        return dict(rows)

    def create_like(self, source_schema: str, target_schema: str, table: str) -> None:
        ddl = self.duck.execute(
            "select sql from duckdb_tables() where schema_name = ? and table_name = ?",
            [source_schema, table],
        ).fetchall()[0][0]
        created, count = re.subn(
            rf'^CREATE TABLE "?{source_schema}"?\.', f"CREATE TABLE {target_schema}.", ddl
        )
        if count != 1:
            raise TieringError(f"unexpected DDL for {source_schema}.{table}: {ddl[:120]}")
        self.duck.execute(created)

    def grant_readers(self, schema: str) -> None:
        """Nothing: DuckDB has no roles; readers open the BI snapshot file."""

    def checkpoint(self) -> None:
        self.duck.execute("checkpoint")

    def consistent_read(self) -> AbstractContextManager[None]:
        """A transaction: DuckDB's are snapshots."""
        return self.transaction()

    def write_parquet(self, select: str, path: Path, partition_by: str | None = None) -> int:
        """One COPY; a partitioned one writes every partition in one pass over the rows."""
        options = "format parquet" + (f", partition_by ({partition_by})" if partition_by else "")
        return self.duck.execute(f"copy ({select}) to {sql_path(path)} ({options})").fetchall()[0][
            0
        ]


class DuckDBWarehouse(Warehouse):
    """A DuckDB file; `local` is the file."""

    kind = "duckdb"

    def __init__(self, path: Path) -> None:
        self.local = path

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[DuckDBConnection]:
        """Open the file and always close it: DuckDB allows one writer per file."""
        if not read_only:
            self.local.parent.mkdir(parents=True, exist_ok=True)
        duck = connect_duckdb(str(self.local), read_only=read_only)
        try:
            yield DuckDBConnection(duck)
        finally:
            duck.close()

    def exists(self) -> bool:
        return self.local.exists()

    def dbt_env(self) -> dict[str, str]:
        return {WAREHOUSE_ENV: str(self.local.resolve()), MEMORY_ENV: memory_limit()}

    def lock(
        self,
        exclusive: bool,
        timeout: float,
        purpose: str,
        on_wait: Callable[[str], None] | None = None,
    ) -> nullcontext[None]:
        """Nothing beyond the file lock: only processes on this machine open the file."""
        return nullcontext()

    def published(self) -> DuckDBWarehouse:
        return DuckDBWarehouse(bi_snapshot_path(self.local))

    @property
    def has_snapshot(self) -> bool:
        return True
