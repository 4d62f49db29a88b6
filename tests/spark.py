"""The dbt project on a local Spark session (profiles.yml target `spark`), for tests.

dbt-spark runs from its own venv, `.venv-spark` (`spark_python`, made by `make spark-env`
when missing): with pyspark importable in the main venv, Great Expectations imports
pyspark.sql.connect, which exits the process (Makefile, SPARK_VENV). Tests run dbt (and
anything else that needs pyspark) as a subprocess of that Python; everything here runs in
the main venv and needs no pyspark (DuckDB writes and reads the Parquet files).

Spark reads the tables no model makes (the raw inputs, the published history) from
Parquet folders: `export_parquet` writes them from a DuckDB warehouse, and dbt's
on-run-start (macros/cross_db/parquet_tables.sql) registers each folder named in
TIERING_SPARK_PARQUET as an external table. `tiering run --target spark` lands its raw
partitions as Parquet itself (customer_tiering.warehouses.spark, tests/test_spark_pipeline.py);
these helpers build the models alone from a DuckDB run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from filelock import FileLock

from customer_tiering.config import DBT_PROJECT_DIR
from customer_tiering.contract import TABLES
from customer_tiering.load import LEDGER

RAW_TABLES = (*(f"raw.{name}" for name in TABLES), LEDGER)

# Spark 4 (pyspark in .venv-spark) needs Java 17 or later on PATH.
requires_java = pytest.mark.skipif(
    shutil.which("java") is None, reason="the spark target needs Java (17 or later) on PATH"
)


def spark_python() -> str:
    """The Python of `.venv-spark` (dbt-spark in session mode), made by `make spark-env`
    when missing (about a minute; one process at a time, under a file lock)."""
    root = DBT_PROJECT_DIR.parent
    with FileLock("/tmp/customer-tiering-tests-spark-env.lock", timeout=1800):
        subprocess.run(["make", "-C", str(root), "spark-env"], check=True, capture_output=True)
    return str(root / ".venv-spark" / "bin" / "python")


def export_parquet(warehouse: Path, tables: tuple[str, ...], out: Path) -> dict[str, str]:
    """Each `schema.table` of the DuckDB `warehouse` as a Parquet folder under `out`;
    returns the relation-to-folder map for TIERING_SPARK_PARQUET."""
    folders = {relation: out / relation for relation in tables}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for relation, folder in folders.items():
            folder.mkdir(parents=True)
            con.execute(f"copy {relation} to '{folder / 'part-0.parquet'}' (format parquet)")
    return {relation: str(folder) for relation, folder in folders.items()}


def spark_env(warehouse: Path, tables: dict[str, str]) -> dict[str, str]:
    """Environment for dbt on the spark target: its warehouse folder and Parquet tables."""
    return {"TIERING_SPARK_WAREHOUSE": str(warehouse), "TIERING_SPARK_PARQUET": json.dumps(tables)}


def spark_table_files(warehouse: Path, schema: str, table: str) -> str:
    """The Parquet files of a table dbt built on the spark target (for DuckDB's
    read_parquet): a managed table's folder under the session's warehouse folder."""
    return str(warehouse / f"{schema}.db" / table / "*.parquet")
