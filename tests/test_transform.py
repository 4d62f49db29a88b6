"""How the pipeline runs dbt: threads by the size of the build, dates that never re-parse."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from customer_tiering import transform
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse
from customer_tiering.warehouses.postgres import PgParams, PostgresWarehouse

AS_OF = date(2024, 6, 30)


def test_a_small_duckdb_build_runs_two_nodes_at_once_and_a_long_one_keeps_the_profile(
    tmp_path: Path,
) -> None:
    duckdb_file = DuckDBWarehouse(tmp_path / "tiers.duckdb")
    last_small_start = AS_OF - timedelta(days=transform.SMALL_BUILD_DAYS - 1)
    assert transform.build_threads(duckdb_file, AS_OF, AS_OF) == ["--threads", "2"]
    assert transform.build_threads(duckdb_file, AS_OF, last_small_start) == ["--threads", "2"]
    assert transform.build_threads(duckdb_file, AS_OF, last_small_start - timedelta(1)) == []
    postgres = PostgresWarehouse(PgParams.from_url("postgresql://u@127.0.0.1:5432/db"), tmp_path)
    assert transform.build_threads(postgres, AS_OF, AS_OF) == []


def test_a_new_as_of_date_reparses_no_file(tmp_path: Path) -> None:
    """dbt re-parses every file that read an env var whose value changed; the macros read
    the dates only when compiling, so a daily run's new date leaves the parse as it was."""
    warehouse = DuckDBWarehouse(tmp_path / "tiers.duckdb")
    for day in (AS_OF, AS_OF + timedelta(days=1)):
        env = {transform.AS_OF_ENV: day.isoformat(), transform.HISTORY_START_ENV: day.isoformat()}
        transform.run_dbt(transform.dbt_args("parse", warehouse), warehouse, env=env)
    log = transform.state_dir(warehouse.local) / "logs" / "dbt.log"
    partial = [
        line for line in log.read_text(encoding="utf-8").splitlines() if "Partial parsing" in line
    ]
    assert partial, "the second parse did not try partial parsing"
    assert "no changes found" in partial[-1]
