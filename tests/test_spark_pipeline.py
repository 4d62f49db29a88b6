"""`tiering run --target spark`: the whole pipeline with dbt on a local Spark session.

A small demo (40 customers), exported as file drops, runs through the real command line
(a separate process, as a scheduler starts it) on the spark target and on DuckDB: a
45-day range, then the next day's daily run, then that daily run again with nothing
changed. Every published table must equal DuckDB's row for row (and column for column,
types included) after the range and after the daily run; the rerun must change nothing
(no dbt, the catalog and the raw Parquet untouched); a refused day must be quarantined
and leave the published tables as they were.

Slow (JVM start, then Spark's per-statement cost: minutes on 2 cores), so marked
spark_build like tests/test_spark_target.py: `make test-spark` runs it, `make test` not.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from customer_tiering.errors import EXIT_INPUT_REFUSED, EXIT_OK
from customer_tiering.sources.demo import DemoSource
from customer_tiering.sources.files import export
from tests.conftest import published_checksums, tiering_command
from tests.spark import requires_java, spark_python
from tests.test_postgres_target import row_differences
from tests.test_spark_target import HISTORY_MARTS, LATEST_MARTS

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.spark_build, requires_java]

START, END = date(2025, 11, 1), date(2025, 12, 15)
NEXT_DAY, BAD_DAY = END + timedelta(days=1), END + timedelta(days=2)
DEMO = {"seed": 7, "customers": 40, "lines_per_day": 40}


@dataclass(frozen=True)
class Runs:
    """The two warehouses after the range and the daily run, the landing folder, the
    configs, and wall seconds per step."""

    root: Path
    landing: Path
    seconds: dict[str, float]

    def config(self, target: str) -> Path:
        return self.root / f"{target}.yml"

    def warehouse(self, target: str) -> Path:
        return self.root / target / "tiers.duckdb"


def run(runs: Runs, target: str, *args: str, landing: Path | None = None) -> tuple[int, str]:
    """`tiering run ARGS --target TARGET` in its own process; (exit code, its stderr)."""
    command = tiering_command(
        runs.config(target),
        "run",
        *args,
        "--target",
        target,
        "--landing",
        str(landing or runs.landing),
    )
    # 2.5 min for the range alone on 2 shared cores; generous for a busy machine.
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    return done.returncode, done.stderr


def timed_run(runs: Runs, step: str, target: str, *args: str) -> str:
    began = time.perf_counter()
    code, err = run(runs, target, *args)
    runs.seconds[f"{target} {step}"] = round(time.perf_counter() - began, 1)
    assert code == EXIT_OK, f"{target} {step}: exit {code}\n{err[-4000:]}"
    return err


def marts_differences(left: Path, right: Path) -> dict[str, list[str]]:
    """How each published table differs between two warehouse files (empty: equal)."""
    problems: dict[str, list[str]] = {}
    columns = (
        "select column_name, data_type from information_schema.columns"
        " where table_schema = 'marts' and table_name = ? order by ordinal_position"
    )
    with (
        duckdb.connect(str(left), read_only=True) as a,
        duckdb.connect(str(right), read_only=True) as b,
    ):
        for mart in (*HISTORY_MARTS, *LATEST_MARTS):
            types = [con.execute(columns, [mart]).fetchall() for con in (a, b)]
            if types[0] != types[1] or not types[0]:
                problems[mart] = [f"columns differ: {types[0]} against {types[1]}"]
                continue
            rows = [con.execute(f"select * from marts.{mart}").fetchall() for con in (a, b)]
            if not rows[0]:
                problems[mart] = ["no rows"]
            found = row_differences([name for name, _ in types[0]], rows[0], rows[1])
            if found:
                problems[mart] = found
    return problems


def files_and_times(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    spark_python()  # make spark-env, once, outside the timings
    root = tmp_path_factory.mktemp("spark_pipeline")
    source = DemoSource(**DEMO)
    export(source, START, BAD_DAY, root / "landing", "csv")
    runs = Runs(root, root / "landing", {})
    for target in ("spark", "duckdb"):
        runs.config(target).write_text(
            f"source: files\ntarget: {target}\nchunk: 45\nwarehouse: {runs.warehouse(target)}\n"
            f"quarantine: {root / target / 'quarantine'}\ndemo: {DEMO}\n",
            encoding="utf-8",
        )
    yield runs
    print(f"wall seconds per run: {runs.seconds}")


def test_a_range_then_a_daily_run_publish_what_duckdb_publishes(runs: Runs) -> None:
    for target in ("spark", "duckdb"):
        timed_run(runs, "range", target, "--start", START.isoformat(), "--end", END.isoformat())
    assert marts_differences(runs.warehouse("duckdb"), runs.warehouse("spark")) == {}
    raw = runs.warehouse("spark").parent / "tiers.spark" / "raw"
    assert len(list((raw / "sales_lines").glob("_business_date=*"))) == (END - START).days + 1

    for target in ("spark", "duckdb"):
        timed_run(runs, "daily", target, "--date", NEXT_DAY.isoformat())
    assert marts_differences(runs.warehouse("duckdb"), runs.warehouse("spark")) == {}
    # The BI snapshot, the HTML report and the Parquet export follow every publish.
    folder = runs.warehouse("spark").parent
    assert (folder / "bi" / "tiers.duckdb").exists()
    assert (folder / "reports" / "tiers" / f"{NEXT_DAY}.html").exists()
    assert (folder / "exports" / "customer_tier_history" / f"as_of_date={NEXT_DAY}").is_dir()


def test_a_rerun_with_nothing_changed_does_nothing(runs: Runs) -> None:
    warehouse = runs.warehouse("spark")
    before = published_checksums(warehouse)
    catalog = warehouse.read_bytes()
    parquet = files_and_times(warehouse.parent / "tiers.spark")
    err = timed_run(runs, "rerun", "spark", "--date", NEXT_DAY.isoformat())
    assert "nothing changed" in err and "dbt build" not in err
    assert warehouse.read_bytes() == catalog
    assert files_and_times(warehouse.parent / "tiers.spark") == parquet
    assert published_checksums(warehouse) == before


def test_a_refused_day_is_quarantined_and_publishes_nothing(runs: Runs, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(runs.landing, landing)
    lines = landing / "sales_lines" / f"{BAD_DAY.isoformat()}.csv"
    frame = pd.read_csv(lines, dtype=str)
    frame.loc[0, "net_amount"] = None
    frame.to_csv(lines, index=False)
    warehouse = runs.warehouse("spark")
    before = published_checksums(warehouse)
    raw = files_and_times(warehouse.parent / "tiers.spark" / "raw")
    code, err = run(runs, "spark", "--date", BAD_DAY.isoformat(), landing=landing)
    assert code == EXIT_INPUT_REFUSED, err[-3000:]
    assert (warehouse.parent / "quarantine" / "sales_lines" / BAD_DAY.isoformat()).is_dir()
    assert published_checksums(warehouse) == before
    assert files_and_times(warehouse.parent / "tiers.spark" / "raw") == raw
