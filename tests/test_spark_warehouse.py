"""The spark target's own logic, without Spark: raw partitions as Parquet, loaded with the
ledger's idempotence, moved in only at the commit; the usage error without `.venv-spark`.

The run itself on Spark (dbt from .venv-spark, Java) is tests/test_spark_pipeline.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from customer_tiering import cli, load
from customer_tiering.config import Settings
from customer_tiering.errors import EXIT_USAGE, ConfigError
from customer_tiering.warehouses import open_warehouse
from customer_tiering.warehouses.spark import SparkWarehouse, partition_folder, swap_in
from tests.conftest import customers_frame, empty_frame, sales_frame

D1, D2 = date(2025, 3, 3), date(2025, 3, 4)


@pytest.fixture
def warehouse(tmp_path: Path) -> SparkWarehouse:
    """A spark warehouse whose `.venv-spark` is a stand-in (nothing here runs dbt)."""
    project = tmp_path / "project"
    python = project / ".venv-spark" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    return SparkWarehouse(tmp_path / "wh" / "tiers.duckdb", project)


def batch(frame: pd.DataFrame, days: list[date], column: str) -> tuple[pd.DataFrame, list[date]]:
    frame = frame.copy()
    frame["_business_date"] = pd.to_datetime(frame[column])
    return frame, days


def sales(rows: list[tuple[str, date, float, float]], days: list[date]) -> dict:
    return {"sales_lines": batch(sales_frame(rows), days, "order_date")}


def raw_rows(warehouse: SparkWarehouse, sql: str) -> list[tuple]:
    with warehouse.connect(read_only=True) as con:
        return con.execute(sql).fetchall()


def files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*.parquet"))


def test_partitions_are_parquet_per_day_and_a_rerun_changes_nothing(
    warehouse: SparkWarehouse,
) -> None:
    first = sales([("C1", D1, 10.0, 6.0), ("C2", D1, 5.0, 3.0), ("C1", D2, 7.0, 4.0)], [D1, D2])
    with warehouse.connect() as con:
        assert load.load(con, first) == {"sales_lines": [D1, D2]}
    folder = warehouse.root / "raw" / "sales_lines"
    assert [p.name for p in sorted(folder.iterdir())] == [
        "_business_date=2025-03-03",
        "_business_date=2025-03-04",
    ]
    # The view the checks read, the rows as the contract types them, and the ledger.
    rows = raw_rows(warehouse, "select customer_id, net_amount from raw.sales_lines order by 1, 2")
    assert [(c, float(a)) for c, a in rows] == [("C1", 7.0), ("C1", 10.0), ("C2", 5.0)]
    ledger = "select business_date, row_count from raw._batches order by 1"
    assert raw_rows(warehouse, ledger) == [(D1, 2), (D2, 1)]
    # Spark reads the files alone: each holds its day's column (no partition inference).
    with duckdb.connect() as duck:
        day = duck.execute(
            f"select distinct _business_date from read_parquet('{folder}/*/*.parquet',"
            " hive_partitioning = false) order by 1"
        ).fetchall()
    assert [row[0] for row in day] == [D1, D2]

    stamps = {path: path.stat().st_mtime_ns for path in folder.rglob("*.parquet")}
    with warehouse.connect() as con:
        assert load.load(con, first) == {"sales_lines": []}
    assert {path: path.stat().st_mtime_ns for path in folder.rglob("*.parquet")} == stamps


def test_a_changed_day_replaces_its_partition_and_an_empty_day_empties_it(
    warehouse: SparkWarehouse,
) -> None:
    with warehouse.connect() as con:
        load.load(con, sales([("C1", D1, 10.0, 6.0), ("C1", D2, 7.0, 4.0)], [D1, D2]))
    with warehouse.connect() as con:
        changed = load.load(con, sales([("C3", D2, 8.0, 5.0)], [D1, D2]))
    # D1 delivered without rows: its rows go (an empty folder); D2 holds the new row only.
    assert changed == {"sales_lines": [D1, D2]}
    rows = raw_rows(warehouse, "select customer_id, _business_date from raw.sales_lines")
    assert rows == [("C3", D2)]
    assert partition_folder(warehouse.root, "sales_lines", "2025-03-03").is_dir()
    assert len(files(warehouse.root / "raw" / "sales_lines")) == 1
    assert not list(warehouse.root.glob(".scratch-*"))  # nothing left beside the partitions
    # Every day emptied: no file left to read, the contract's empty table stands in.
    with warehouse.connect() as con:
        load.load(con, sales([], [D1, D2]))
    assert raw_rows(warehouse, "select count(*) from raw.sales_lines") == [(0,)]


def test_a_failed_load_moves_nothing_in(warehouse: SparkWarehouse) -> None:
    with warehouse.connect() as con:
        load.load(con, sales([("C1", D1, 10.0, 6.0)], [D1]))
    before = files(warehouse.root / "raw")
    broken = {
        **sales([("C9", D1, 99.0, 1.0)], [D1]),
        "customers": (customers_frame(["C9"]).drop(columns=["name"]), [D1]),  # no such column
    }
    with pytest.raises(duckdb.Error), warehouse.connect() as con:
        load.load(con, broken)
    assert files(warehouse.root / "raw") == before
    assert raw_rows(warehouse, "select customer_id from raw.sales_lines") == [("C1",)]
    assert not list(warehouse.root.glob(".scratch-*"))


def test_master_snapshot_unchanged_is_not_stored_again(warehouse: SparkWarehouse) -> None:
    customers = customers_frame(["C1", "C2"])
    for day in (D1, D2):
        snapshot = customers.assign(_business_date=pd.Timestamp(day))
        with warehouse.connect() as con:
            load.load(con, {"customers": (snapshot, [day])})
    assert files(warehouse.root / "raw" / "customers") == [
        "_business_date=2025-03-03/data_0.parquet"
    ]
    assert raw_rows(warehouse, "select count(*) from raw.customers") == [(2,)]


def test_build_inputs_are_the_ledger_and_only_a_published_history(
    warehouse: SparkWarehouse,
) -> None:
    with warehouse.connect() as con:
        load.load(con, sales([("C1", D1, 10.0, 6.0)], [D1]))
        load.load(con, {"cost_to_serve": batch(empty_frame("cost_to_serve"), [], "entry_date")})
    warehouse.prepare_build()
    tables = warehouse.parquet_tables()
    assert set(tables) == {"raw.sales_lines", "raw._batches"}
    assert (Path(tables["raw._batches"]) / "part-0.parquet").exists()
    env = warehouse.dbt_env()
    assert env["TIERING_SPARK_WAREHOUSE"] == str(warehouse.root / "catalog")


def test_swap_in_keeps_the_old_folder_whole_until_the_new_one_is_in(tmp_path: Path) -> None:
    target, new, trash = tmp_path / "t", tmp_path / "new", tmp_path / "trash"
    target.mkdir()
    (target / "old").touch()
    new.mkdir()
    (new / "fresh").touch()
    swap_in(new, target, trash)
    assert [p.name for p in target.iterdir()] == ["fresh"]
    assert [p.name for p in next(trash.iterdir()).iterdir()] == ["old"]
    swap_in(None, target, trash)
    assert not target.exists()


def test_spark_without_its_venv_is_a_usage_error_naming_make_spark_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr("customer_tiering.config.PROJECT_ROOT", tmp_path)
    settings = Settings(target="spark", warehouse=tmp_path / "wh" / "tiers.duckdb")
    with pytest.raises(ConfigError, match="make spark-env"):
        open_warehouse(settings)
    config = tmp_path / "tiering.yml"
    config.write_text(f"target: spark\nwarehouse: {tmp_path / 'wh' / 'tiers.duckdb'}\n")
    assert cli.main(["--config", str(config), "run", "--date", "2025-03-03"]) == EXIT_USAGE
    assert "make spark-env" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "wh").exists()  # refused before anything was pulled
