"""Runs that overlap or arrive out of order: the warehouse lock serializes them, and the
tables equal those of the same days run one after the other.

Real `tiering run` processes on one DuckDB file; the expected tables come from the same
days run one after the other.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from customer_tiering import lock, pipeline, publish
from customer_tiering.config import DemoSettings, Settings
from customer_tiering.errors import EXIT_FAILURE, EXIT_OK
from tests.conftest import table_checksum, tiering_command, warehouse_tables

SCALE = {"seed": 5, "customers": 40, "lines_per_day": 30}
DAY_1, DAY_2, LATER = date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 20)


def settings_for(folder: Path, **extra: object) -> Settings:
    return Settings(
        warehouse=folder / "tiers.duckdb",
        quarantine=folder / "quarantine",
        demo=DemoSettings(**SCALE),
        **extra,
    )


def config_file(folder: Path, **extra: object) -> Path:
    settings = settings_for(folder)
    lines = [
        f"warehouse: {settings.warehouse}",
        f"quarantine: {settings.quarantine}",
        f"demo: {{seed: {SCALE['seed']}, customers: {SCALE['customers']},"
        f" lines_per_day: {SCALE['lines_per_day']}}}",
        *(f"{key}: {value}" for key, value in extra.items()),
    ]
    path = folder / "tiering.yml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def everything(warehouse: Path) -> dict[str, str]:
    return {table: table_checksum(warehouse, table) for table in warehouse_tables(warehouse)}


def latest_as_of(warehouse: Path) -> tuple[date, date]:
    """max(as_of_date) of customer_tiers in the warehouse and in the BI snapshot."""
    query = "select max(as_of_date) from marts.customer_tiers"
    found = []
    for path in (warehouse, publish.bi_snapshot_path(warehouse)):
        with duckdb.connect(str(path), read_only=True) as con:
            found.append(con.execute(query).fetchone()[0])
    return found[0], found[1]


@pytest.fixture(scope="module")
def in_order(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Every table after the daily runs of DAY_1 and DAY_2, and after those then LATER."""
    settings = settings_for(tmp_path_factory.mktemp("in_order"))
    for day in (DAY_1, DAY_2):
        pipeline.run(settings, day, day)
    first = everything(settings.warehouse)
    pipeline.run(settings, LATER, LATER)
    return {"days": first, "days_then_later": everything(settings.warehouse)}


def test_an_old_day_after_a_new_one(tmp_path: Path, in_order: dict[str, dict[str, str]]) -> None:
    settings = settings_for(tmp_path)
    pipeline.run(settings, LATER, LATER)
    for day in (DAY_1, DAY_2):
        result = pipeline.run(settings, day, day)
        # The old day's history is added and what depends on it recomputed, but the
        # latest tables (and the BI snapshot) stay at the latest day.
        assert result.as_of == LATER
        assert result.history_start == day
        assert latest_as_of(settings.warehouse) == (LATER, LATER)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        as_of_dates = con.execute(
            "select distinct as_of_date from marts.customer_tier_history order by 1"
        ).fetchall()
    # History only for the days processed, as when they are run in order.
    assert [row[0] for row in as_of_dates] == [DAY_1, DAY_2, LATER]
    assert everything(settings.warehouse) == in_order["days_then_later"]

    # A rerun that changes nothing (same data, rules and models) skips validation and the
    # build: the warehouse file stays byte-identical.
    before = settings.warehouse.read_bytes()
    rerun = pipeline.run(settings, DAY_2, DAY_2)
    assert (rerun.as_of, rerun.tables, rerun.changed_days) == (LATER, [], {})
    assert settings.warehouse.read_bytes() == before


def test_two_runs_started_at_once_take_turns(
    tmp_path: Path, in_order: dict[str, dict[str, str]]
) -> None:
    config = config_file(tmp_path)
    processes = [
        subprocess.Popen(
            tiering_command(config, "run", "--date", day.isoformat()),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for day in (DAY_1, DAY_2)
    ]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    codes = [process.returncode for process in processes]
    assert codes == [EXIT_OK, EXIT_OK], "\n".join(output[-2000:] for output in outputs)
    # One of them found the warehouse held and waited for it.
    assert sum("waiting for the warehouse" in output for output in outputs) == 1, outputs
    settings = settings_for(tmp_path)
    assert everything(settings.warehouse) == in_order["days"]
    assert latest_as_of(settings.warehouse) == (DAY_2, DAY_2)


def test_a_run_that_cannot_get_the_warehouse_fails_cleanly(tmp_path: Path) -> None:
    config = config_file(tmp_path, lock_timeout_seconds=1)
    warehouse = settings_for(tmp_path).warehouse
    with lock.warehouse_lock(warehouse, exclusive=True, timeout=0, purpose="backfill 2024"):
        result = subprocess.run(
            tiering_command(config, "run", "--date", DAY_1.isoformat()),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == EXIT_FAILURE, result.stderr[-2000:]
    stderr = " ".join(result.stderr.split())  # the console wraps where the path length says
    assert "is busy: backfill 2024" in stderr
    assert "changed nothing" in stderr
    assert not warehouse.exists()  # nothing pulled, loaded or created


def test_the_lock_is_shared_by_readers_and_reentrant(tmp_path: Path) -> None:
    warehouse = tmp_path / "tiers.duckdb"
    # The same process may take it again (pipeline.run holds it around its steps).
    with (
        lock.warehouse_lock(warehouse, exclusive=True, timeout=0, purpose="a run"),
        lock.warehouse_lock(warehouse, exclusive=False, timeout=0, purpose="a step"),
    ):
        assert lock.lock_path(warehouse).exists()
    reader = [sys.executable, "-c", READER, str(warehouse)]
    with lock.warehouse_lock(warehouse, exclusive=False, timeout=0, purpose="a reader"):
        shared = subprocess.run([*reader, "shared"], capture_output=True, text=True, check=False)
        exclusive = subprocess.run(
            [*reader, "exclusive"], capture_output=True, text=True, check=False
        )
    assert shared.stdout.strip() == "got it", shared.stderr
    assert exclusive.stdout.strip() == "busy", exclusive.stderr


READER = """
import sys
from pathlib import Path
from customer_tiering import lock
from customer_tiering.errors import WarehouseBusy
try:
    with lock.warehouse_lock(Path(sys.argv[1]), exclusive=sys.argv[2] == "exclusive",
                             timeout=0.2, purpose="test"):
        print("got it")
except WarehouseBusy:
    print("busy")
"""
