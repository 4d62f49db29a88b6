"""How the pipeline runs dbt: threads by the size of the build, dates that never re-parse."""

from __future__ import annotations

import signal
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


def test_a_prestarted_dbt_runs_the_command_it_is_handed(tmp_path: Path) -> None:
    """The command line starts dbt while it ingests; the build hands that child its job."""
    warehouse = DuckDBWarehouse(tmp_path / "tiers.duckdb")
    env = {transform.AS_OF_ENV: AS_OF.isoformat(), transform.HISTORY_START_ENV: AS_OF.isoformat()}
    with transform.prestarted(warehouse) as dbt:
        child = dbt.process
        assert child is not None
        transform.run_dbt(transform.dbt_args("parse", warehouse), warehouse, env, prestarted=dbt)
        assert dbt.process is None, "the job did not go to the prestarted child"
    assert child.returncode == 0
    manifest = transform.manifest_path(warehouse.local).read_text(encoding="utf-8")
    assert '"model.customer_tiering.customer_tier_history"' in manifest


def test_an_unused_prestarted_dbt_is_ended_at_once(tmp_path: Path) -> None:
    with transform.prestarted(DuckDBWarehouse(tmp_path / "tiers.duckdb")) as dbt:
        child = dbt.process
    assert child is not None and child.returncode == -signal.SIGKILL
