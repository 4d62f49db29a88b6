"""The dbt project built on Spark (target `spark`, a local session) equals DuckDB's build.

A tiny demo (40 customers, 45 days) runs through the pipeline on DuckDB; its raw tables go
to Spark as Parquet (tests/spark.py) and `dbt build --target spark` computes the same range
of as-of dates (the many-dates branch of macros/run_dates.sql), then the next day alone
(the few-dates branch, reading the published history). Every published mart must equal
DuckDB's row for row, after both builds.

dbt runs from `.venv-spark` (tests/spark.py, `make spark-env` when missing), never in this
process: pyspark must not be importable beside Great Expectations. DuckDB writes the
Parquet inputs and reads Spark's tables from their Parquet files.
"""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest

from customer_tiering import pipeline, transform
from customer_tiering.config import DBT_PROJECT_DIR, DemoSettings, Settings
from tests.spark import (
    RAW_TABLES,
    export_parquet,
    requires_java,
    spark_env,
    spark_python,
    spark_table_files,
)
from tests.test_postgres_target import assert_every_published_column_documented

pytestmark = [pytest.mark.integration, pytest.mark.spark, requires_java]

START, END, NEXT_DAY = date(2025, 11, 1), date(2025, 12, 15), date(2025, 12, 16)
HISTORY_MARTS = (
    "customer_tier_history",
    "tier_transitions",
    "customer_alerts",
    "price_exceptions",
    "receivables_aging",
)
LATEST_MARTS = (
    "customer_tiers",
    "new_customers_monthly",
    "customer_activity_monthly",
    "customer_service_plan",
)


def test_every_published_mart_is_compared() -> None:
    marts = {path.stem for path in (DBT_PROJECT_DIR / "models" / "marts").rglob("*.sql")}
    assert {*HISTORY_MARTS, *LATEST_MARTS} == marts


def spark_build(folder: Path, tables: dict[str, str], as_of: date, history_start: date) -> None:
    """`dbt build --target spark` of as_of's history from history_start (no unit tests)."""
    spark_dbt(folder, tables, as_of, history_start, "build", "--exclude-resource-type", "unit_test")


def spark_dbt(
    folder: Path, tables: dict[str, str], as_of: date, history_start: date, *command: str
) -> None:
    """dbt `command` with `--target spark`, its state in `folder`."""
    env = {
        **os.environ,
        **spark_env(folder / "spark", tables),
        "TIERING_AS_OF_DATE": as_of.isoformat(),
        "TIERING_HISTORY_START_DATE": history_start.isoformat(),
    }
    project = ("--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR))
    state = ("--target-path", str(folder / "target"), "--log-path", str(folder / "logs"))
    dbt = (spark_python(), "-c", transform.DBT_CLI, *command, "--target", "spark")
    done = subprocess.run(
        [*dbt, *project, *state],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        # 2 min alone; 11 min seen in `make test` on 2 cores shared with a benchmark.
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-6000:]


def differing_rows(
    warehouse: Path, spark: Path, mart: str, as_of: date | None
) -> tuple[int, int, int]:
    """(rows DuckDB published, rows only there, rows only in Spark's build) of `mart`,
    the published rows cut to as_of when given."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = ", ".join(row[0] for row in con.execute(f"describe marts.{mart}").fetchall())
        where = f"where as_of_date = '{as_of}'" if as_of else ""
        published = f"select {columns} from marts.{mart} {where}"
        files = spark_table_files(spark, "marts_build", mart)
        built = f"select {columns} from read_parquet('{files}')"
        queries = (published, f"{published} except all {built}", f"{built} except all {published}")
        count, only_duckdb, only_spark = (
            con.execute(f"select count(*) from ({query})").fetchone()[0] for query in queries
        )
    return count, only_duckdb, only_spark


# 7 minutes alone, 17 inside `make test` on 2 cores: `make test-spark` runs it (the
# Spark compile of tests/test_targets_compile.py stays in `make test` and CI).
@pytest.mark.spark_build
def test_spark_builds_the_marts_duckdb_publishes(tmp_path: Path) -> None:
    settings = Settings(
        warehouse=tmp_path / "tiers.duckdb",
        quarantine=tmp_path / "quarantine",
        demo=DemoSettings(seed=7, customers=40, lines_per_day=40),
        chunk=(END - START).days + 1,
    )
    pipeline.run(settings, START, END)
    tables = export_parquet(settings.warehouse, RAW_TABLES, tmp_path / "backfill")
    spark_build(tmp_path, tables, END, START)
    spark = tmp_path / "spark"
    for mart in (*HISTORY_MARTS, *LATEST_MARTS):
        count, only_duckdb, only_spark = differing_rows(settings.warehouse, spark, mart, None)
        assert count > 0, mart
        assert (only_duckdb, only_spark) == (0, 0), mart
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        days = "select count(distinct as_of_date) from marts.customer_tier_history"
        assert con.execute(days).fetchone()[0] == (END - START).days + 1
    # dbt docs on Spark: every published column in the catalog and described.
    spark_dbt(tmp_path, tables, END, START, "docs", "generate")
    assert_every_published_column_documented(tmp_path / "target")

    # The next day alone, with the history published so far (DuckDB's, equal to Spark's).
    history = ("marts.customer_tier_history",)
    published = export_parquet(settings.warehouse, history, tmp_path / "published")
    pipeline.run(settings, NEXT_DAY, NEXT_DAY)
    tables = export_parquet(settings.warehouse, RAW_TABLES, tmp_path / "next_day")
    spark_build(tmp_path, {**tables, **published}, NEXT_DAY, NEXT_DAY)
    for mart in HISTORY_MARTS:
        assert differing_rows(settings.warehouse, spark, mart, NEXT_DAY)[1:] == (0, 0), mart
    for mart in LATEST_MARTS:
        assert differing_rows(settings.warehouse, spark, mart, None)[1:] == (0, 0), mart
