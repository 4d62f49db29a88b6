"""Target spark: raw partitions as Parquet, dbt's models on a local Spark session.

What lives where, for `warehouse: warehouse/tiers.duckdb` (the `warehouse` setting):

    warehouse/tiers.duckdb              the catalog: the ledger (raw._batches), pending
                                        days, the build fingerprint, the publication
                                        record and the published schema marts; raw.<table>
                                        and marts_build.<table> are views over the Parquet
    warehouse/tiers.spark/raw/<table>/_business_date=<D>/part-0.parquet
                                        the raw partitions, one folder per business day
    warehouse/tiers.spark/inputs/       what else the build reads, copied from the catalog
                                        before each build (the ledger, the published history)
    warehouse/tiers.spark/catalog/      Spark's warehouse dir (TIERING_SPARK_WAREHOUSE):
                                        the tables dbt builds, and its Derby metastore

The pipeline process never imports pyspark (with pyspark importable, Great Expectations
imports pyspark.sql.connect and exits the process: Makefile, SPARK_VENV). Its own SQL
(staging pulled batches, checksums, validation's cross-checks, publishing) runs on DuckDB,
which reads and writes the same Parquet files; dbt runs from `.venv-spark` as a child
process, and on-run-start registers every folder of TIERING_SPARK_PARQUET as an external
table of the session (macros/cross_db/parquet_tables.sql). So the load, the checks and the
publish are the DuckDB target's code (this connection is a DuckDBConnection), and only
where rows are stored differs.

Loading writes each changed partition whole into a hidden folder, then moves it in just
before the ledger's transaction commits (`transaction`), so a partition is never seen half
written; a run killed between the moves and the commit leaves partitions newer than the
ledger, which the next pull of those days finds changed and loads again. Publishing is
the DuckDB target's write-audit-publish: Spark builds and tests the marts into its
marts_build, and one DuckDB transaction copies them into schema marts, so a failed build
leaves every published table (and the BI snapshot) as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from customer_tiering.contract import BUSINESS_DATE, LOADED_AT, TABLES
from customer_tiering.errors import ConfigError
from customer_tiering.warehouses.duckdb_file import (
    DuckDBConnection,
    DuckDBWarehouse,
    connect_duckdb,
    sql_path,
)

# Where dbt-spark lives (make spark-env), relative to the project root.
SPARK_VENV = ".venv-spark"
# profiles.yml's spark output reads these (tests/spark.py sets them the same way).
SPARK_WAREHOUSE_ENV = "TIERING_SPARK_WAREHOUSE"
SPARK_PARQUET_ENV = "TIERING_SPARK_PARQUET"
BUILD_SCHEMA = "marts_build"
# Tables a build reads that no model makes, besides the raw inputs: copied from the
# catalog into inputs/ before each build (the published history only once published).
BUILD_INPUTS = ("raw._batches", "marts.customer_tier_history")


def spark_python(project_root: Path) -> Path:
    """The Python of `.venv-spark`, or ConfigError (exit 2) naming `make spark-env`."""
    python = project_root / SPARK_VENV / "bin" / "python"
    if not python.exists():
        raise ConfigError(
            f"target spark runs dbt from {project_root / SPARK_VENV}, which is missing:"
            f" run `make spark-env` in {project_root} (dbt-spark in session mode, about a"
            " minute; Java 17 or later on PATH)"
        )
    return python


def partition_folder(root: Path, table: str, day: str) -> Path:
    """The folder of one raw partition (hive style: `_business_date=<YYYY-MM-DD>`)."""
    return root / "raw" / table / f"{BUSINESS_DATE}={day}"


def swap_in(new: Path | None, target: Path, trash: Path) -> None:
    """Make folder `new` the folder `target` (None: remove `target`): the old one is moved
    aside into `trash` first, so `target` is always either the whole old or the whole new
    folder, never a mix; the caller deletes `trash`."""
    if target.exists():
        trash.mkdir(parents=True, exist_ok=True)
        os.replace(target, trash / f"{target.name}.{uuid.uuid4().hex}")
    if new is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(new, target)


@dataclass
class PartitionWrites:
    """Raw partitions written but not yet moved in: (new folder or None, target)."""

    scratch: Path
    moves: list[tuple[Path | None, Path]] = field(default_factory=list)

    def discard(self) -> None:
        self.moves.clear()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def apply(self) -> set[str]:
        """Move every partition in; return the tables touched."""
        trash = self.scratch / "trash"
        tables = {target.parent.name for _, target in self.moves}
        for new, target in self.moves:
            swap_in(new, target, trash)
        self.discard()
        return tables


class SparkConnection(DuckDBConnection):
    """The catalog's DuckDB connection, whose raw partitions are Parquet folders: the load
    (customer_tiering.load) writes them through `replace_raw_days`, and they are moved in
    when its transaction commits."""

    def __init__(self, duck: duckdb.DuckDBPyConnection, root: Path) -> None:
        super().__init__(duck)
        self.root = root
        self.writes = PartitionWrites(root / f".scratch-{os.getpid()}-{uuid.uuid4().hex[:8]}")

    def replace_raw_days(self, table: str) -> None:
        """Write the staged rows of the changed days of `table` (temp tables `staged`,
        `changed_days` of load.stage_table) as one Parquet partition per day, in one pass,
        into the scratch folder; a changed day no longer stored (a redundant master
        snapshot) will be removed. Moved in by `transaction` before the commit."""
        out = self.writes.scratch / table / uuid.uuid4().hex
        out.parent.mkdir(parents=True, exist_ok=True)
        self.duck.execute(
            f"""
            copy (
                select s.*, cast(current_timestamp as timestamp) as {LOADED_AT}
                from staged as s
                join changed_days as c on c.business_date = s.{BUSINESS_DATE}
                where c.is_stored
            ) to {sql_path(out)}
            (format parquet, partition_by ({BUSINESS_DATE}), write_partition_columns true)
            """
        )
        days = self.duck.execute(
            "select cast(business_date as varchar), is_stored, "
            f" exists (select 1 from staged where {BUSINESS_DATE} = business_date)"
            " from changed_days order by 1"
        ).fetchall()
        for day, is_stored, has_rows in days:
            written = out / f"{BUSINESS_DATE}={day}"
            # A delivered day without rows is an empty folder: the day's old rows go.
            if is_stored and not has_rows:
                written.mkdir(parents=True, exist_ok=True)
            self.writes.moves.append(
                (written if is_stored else None, partition_folder(self.root, table, day))
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A DuckDB transaction whose Parquet partitions move in just before the commit
        (and the raw views then read them); discarded on rollback."""
        with super().transaction():
            try:
                yield
                for table in self.writes.apply():
                    self.refresh_raw_view(table)
            finally:
                self.writes.discard()

    def refresh_raw_view(self, table: str) -> None:
        """raw.`table` as a view over its partitions; while it has no file (never
        loaded, or every day delivered empty) the empty table of the contract
        (load.ensure_raw_schema) stands in for it, as a view over no file cannot be read."""
        from customer_tiering.load import ensure_raw_schema

        folder = self.root / "raw" / table
        kind = self.duck.execute(
            "select table_type from information_schema.tables"
            " where table_schema = 'raw' and table_name = ?",
            [table],
        ).fetchall()
        is_view = bool(kind) and kind[0][0] == "VIEW"
        if not any(folder.glob("*/*.parquet")):
            if is_view:
                self.duck.execute(f"drop view raw.{table}")
                ensure_raw_schema(self)
            return
        if kind and not is_view:
            self.duck.execute(f"drop table raw.{table}")
        files = sql_path(folder / "*" / "*.parquet")
        self.duck.execute(
            f"create or replace view raw.{table} as"
            f" select * from read_parquet({files}, hive_partitioning = false)"
        )

    def refresh_build_views(self, catalog: Path) -> None:
        """marts_build.<table> as views over the Parquet of the tables Spark built there,
        for publish.promote."""
        folder = catalog / f"{BUILD_SCHEMA}.db"
        built = sorted(p for p in folder.glob("*") if any(p.glob("*.parquet")))
        if not built:
            return
        self.duck.execute(f"create schema if not exists {BUILD_SCHEMA}")
        for table in built:
            self.duck.execute(
                f"create or replace view {BUILD_SCHEMA}.{table.name} as"
                f" select * from read_parquet({sql_path(table / '*.parquet')})"
            )

    def create_like(self, source_schema: str, target_schema: str, table: str) -> None:
        """The built marts are views over Parquet (no DDL to copy): an empty table of
        their columns and types."""
        self.duck.execute(
            f"create table {target_schema}.{table} as select * from {source_schema}.{table} limit 0"
        )


class SparkWarehouse(DuckDBWarehouse):
    """A catalog DuckDB file (`local`) with raw partitions as Parquet beside it, built by
    dbt on a local Spark session (`.venv-spark`)."""

    kind = "spark"

    def __init__(self, path: Path, project_root: Path) -> None:
        super().__init__(path)
        self.python = spark_python(project_root)

    @property
    def root(self) -> Path:
        """The folder of this warehouse's Parquet (raw, build inputs, Spark's catalog)."""
        return self.local.resolve().parent / f"{self.local.stem}.spark"

    @property
    def catalog(self) -> Path:
        """Spark's warehouse dir: the tables dbt builds and the Derby metastore."""
        return self.root / "catalog"

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[SparkConnection]:
        if not read_only:
            self.local.parent.mkdir(parents=True, exist_ok=True)
        duck = connect_duckdb(str(self.local), read_only=read_only)
        con = SparkConnection(duck, self.root)
        try:
            if not read_only:
                con.refresh_build_views(self.catalog)
            yield con
        finally:
            con.writes.discard()
            duck.close()

    def dbt_python(self) -> str:
        return str(self.python)

    def dbt_env(self) -> dict[str, str]:
        return {
            SPARK_WAREHOUSE_ENV: str(self.catalog),
            SPARK_PARQUET_ENV: json.dumps(self.parquet_tables()),
        }

    def parquet_tables(self) -> dict[str, str]:
        """`schema.table` -> folder, for TIERING_SPARK_PARQUET: every raw input with
        partitions, and the build inputs copied by `prepare_build`."""
        tables = {
            f"raw.{name}": str(self.root / "raw" / name)
            for name in TABLES
            if (self.root / "raw" / name).exists()
        }
        for relation in BUILD_INPUTS:
            folder = self.root / "inputs" / relation
            if folder.exists():
                tables[relation] = str(folder)
        return tables

    def prepare_build(self) -> None:
        """Copy the build inputs the catalog holds (the ledger, the published history) to
        Parquet folders for Spark, each written whole and then moved in; an input the
        catalog does not hold yet (nothing published) is removed, as it would be absent
        from a DuckDB build."""
        inputs, trash = self.root / "inputs", self.root / "inputs" / ".trash"
        with self.connect(read_only=True) as con:
            for relation in BUILD_INPUTS:
                target = inputs / relation
                new = inputs / f".{relation}.{os.getpid()}"
                shutil.rmtree(new, ignore_errors=True)
                if con.table_exists(*relation.split(".")):
                    new.mkdir(parents=True)
                    con.write_parquet(f"select * from {relation}", new / "part-0.parquet")
                    swap_in(new, target, trash)
                else:
                    swap_in(None, target, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def describe(self) -> str:
        return f"{self.local} (raw Parquet and Spark's tables in {self.root})"
