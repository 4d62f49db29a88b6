"""The Airflow task steps (customer_tiering.orchestration), exercised without Airflow.

The steps hand batches between processes through Parquet files in a run folder, one
subfolder per chunk; these tests check that this detour changes nothing: the raw tables
the validate step loads from the run folder equal those loaded from the same pulls in
memory, reruns are idempotent, a refused batch loads nothing, and a build plans the right
days. dbt is not run here
(tests/test_dag_integrity.py runs a whole DAG run).
"""

from __future__ import annotations

import sys
import types
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

import customer_tiering
from customer_tiering import load, orchestration, pipeline, publish
from customer_tiering.config import DemoSettings, Settings
from customer_tiering.contract import TABLES
from customer_tiering.errors import ConfigError, InputRefused
from customer_tiering.orchestration import Window
from customer_tiering.sources import open_source, pulling
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse
from tests.conftest import table_checksum, warehouse_tables

DAY = date(2024, 3, 5)
SMALL = DemoSettings(customers=60, lines_per_day=40)


def small_settings(root: Path) -> Settings:
    return Settings(
        warehouse=root / "warehouse" / "tiers.duckdb", quarantine=root / "quarantine", demo=SMALL
    )


@pytest.fixture
def accept_all(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Stand-in for the validation guard that accepts everything and records its calls,
    so these tests check the hand-over, not the expectations."""
    calls: list[tuple] = []
    fake = types.ModuleType("customer_tiering.validate")

    class Accepted:
        warnings = ()

        def __str__(self) -> str:
            return "accepted"

    def validate_batches(settings, batches, start, end):
        calls.append((settings, batches, start, end))
        return Accepted()

    fake.validate_batches = validate_batches  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "customer_tiering.validate", fake)
    monkeypatch.setattr(customer_tiering, "validate", fake, raising=False)
    monkeypatch.setattr(pipeline, "validate", fake)
    return calls


def run_steps_until_load(settings: Settings, window: Window) -> dict[str, list[date]]:
    """What the DAG does before dbt: prepare, pull each table, validate (which loads each
    chunk from the run folder once it passes); what the loads changed."""
    orchestration.prepare(settings, window)
    for table in TABLES:
        orchestration.pull(settings, window, table)
    orchestration.validate(settings, window)
    return orchestration.context(settings, window).store.changed()


def raw_checksums(warehouse: Path) -> dict[str, str]:
    return {
        table: table_checksum(warehouse, table)
        for table in warehouse_tables(warehouse)
        if table.startswith("raw.")
    }


# --- which days a run processes -------------------------------------------------------


def test_scheduled_run_processes_the_logical_dates_day() -> None:
    logical = datetime(2024, 3, 5, tzinfo=UTC)
    assert orchestration.resolve_window(logical, {}) == Window(DAY, DAY)
    assert orchestration.resolve_window(logical, None).key == "2024-03-05"


def test_business_day_is_taken_in_the_distributors_timezone() -> None:
    # Midnight in Shanghai is 16:00 UTC the day before.
    logical = datetime(2024, 3, 4, 16, 0, tzinfo=UTC)
    assert orchestration.business_day(logical, "Asia/Shanghai") == DAY
    assert orchestration.business_day(logical, "UTC") == date(2024, 3, 4)


def test_params_give_a_range_run() -> None:
    window = orchestration.resolve_window(
        datetime(2026, 1, 1, tzinfo=UTC),
        {"start": "2024-01-01", "end": "2024-03-31", "full_refresh": True},
    )
    assert window == Window(date(2024, 1, 1), date(2024, 3, 31), True)
    assert window.key == "2024-01-01_2024-03-31"
    assert Window.from_xcom(window.to_xcom()) == window


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2024-03-05", "end": "2024-03-01"}, "before start"),
        ({"start": "2024-03-05"}, "go together"),
        ({"end": "2024-03-05"}, "go together"),
        ({"start": "2024-02-30", "end": "2024-03-05"}, "YYYY-MM-DD"),
        ({"start": "05/03/2024", "end": "2024-03-05"}, "YYYY-MM-DD"),
        ({"full_refresh": "yes"}, "true or false"),
    ],
)
def test_bad_params_are_refused(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        orchestration.resolve_window(datetime(2024, 3, 5, tzinfo=UTC), params)


def test_a_run_without_logical_date_needs_a_range() -> None:
    with pytest.raises(ConfigError, match="needs params"):
        orchestration.resolve_window(None, {})
    assert orchestration.resolve_window(None, {"start": DAY, "end": DAY}) == Window(DAY, DAY)


# --- the hand-over between tasks ------------------------------------------------------


def test_run_folder_holds_each_tables_batch(tmp_path: Path, accept_all: list) -> None:
    settings = small_settings(tmp_path)
    window = Window(DAY, DAY)
    folder = orchestration.prepare(settings, window)
    assert folder == settings.warehouse.resolve().parent / ".runs" / "2024-03-05"
    for table in TABLES:
        pulled = orchestration.pull(settings, window, table)
        assert pulled["table"] == table
    assert sorted(path.name for path in (folder / "2024-03-05").glob("*.parquet")) == sorted(
        f"{table}.parquet" for table in TABLES
    )
    batches = orchestration.FolderStore(folder).batches(window, TABLES)
    assert batches["sales_lines"][1] == [DAY]
    assert len(batches["sales_lines"][0]) > 0
    assert orchestration.validate(settings, window) == "accepted"
    (_, handed, start, end) = accept_all[0]
    assert (start, end) == (DAY, DAY)
    assert set(handed) == set(TABLES)


def test_steps_load_what_the_pipeline_loads(tmp_path: Path, accept_all: list) -> None:
    """Three daily runs through the task steps (Parquet in between) and the same three
    days pulled and loaded in memory by pipeline's functions give identical raw tables;
    one range run of the three days gives the same raw data, in one chunk or in three."""
    days = [DAY + timedelta(days=offset) for offset in range(3)]
    by_steps = small_settings(tmp_path / "steps")
    for day in days:
        run_steps_until_load(by_steps, Window(day, day))

    in_memory = small_settings(tmp_path / "memory")
    source = open_source(in_memory)
    for day in days:
        already = pipeline.loaded_days(in_memory)
        batches = {
            table: pulling.pull_table(
                source, table, already[table], day, day, in_memory.lookback_days
            )
            for table in TABLES
        }
        with DuckDBWarehouse(in_memory.warehouse).connect() as con:
            load.load(con, batches)

    ranged = small_settings(tmp_path / "range")
    run_steps_until_load(ranged, Window(days[0], days[-1]))
    chunked = small_settings(tmp_path / "chunked").model_copy(update={"chunk": 1})
    run_steps_until_load(chunked, Window(days[0], days[-1]))

    expected = raw_checksums(in_memory.warehouse)
    assert raw_checksums(by_steps.warehouse) == expected
    # The ledger may list master snapshots per day or per range; the data is the same.
    ranged_checksums = raw_checksums(ranged.warehouse)
    assert {k: v for k, v in ranged_checksums.items() if k != "raw._batches"} == {
        k: v for k, v in expected.items() if k != "raw._batches"
    }
    assert raw_checksums(chunked.warehouse) == ranged_checksums


def test_rerun_of_a_day_is_idempotent(tmp_path: Path, accept_all: list) -> None:
    settings = small_settings(tmp_path)
    window = Window(DAY, DAY)
    first = run_steps_until_load(settings, window)
    assert all(days == [DAY] for days in first.values())
    before = raw_checksums(settings.warehouse)
    stray = orchestration.run_dir(settings, window) / "sales_lines.days.json"
    stray.write_text("garbage", encoding="utf-8")  # a half-finished earlier attempt
    again = run_steps_until_load(settings, window)
    assert raw_checksums(settings.warehouse) == before
    assert all(days == [] for days in again.values())
    # The day an earlier attempt loaded stays pending until a publish recomputes it.
    with DuckDBWarehouse(settings.warehouse).connect(read_only=True) as con:
        assert load.first_pending_day(con) == DAY


def test_refused_batch_loads_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("customer_tiering.validate")

    def refuse(settings, batches, start, end):
        raise InputRefused("sales_lines 2024-03-05: net_amount has nulls (quarantined)")

    fake.validate_batches = refuse  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "customer_tiering.validate", fake)
    monkeypatch.setattr(customer_tiering, "validate", fake, raising=False)
    monkeypatch.setattr(pipeline, "validate", fake)
    settings = small_settings(tmp_path)
    window = Window(DAY, DAY)
    orchestration.prepare(settings, window)
    for table in TABLES:
        orchestration.pull(settings, window, table)
    with pytest.raises(InputRefused) as refused:
        orchestration.validate(settings, window)
    assert orchestration.is_refusal(refused.value)
    assert not settings.warehouse.exists()


def test_pull_needs_prepare_and_a_known_table(tmp_path: Path) -> None:
    settings = small_settings(tmp_path)
    with pytest.raises(ConfigError, match="unknown input table"):
        orchestration.pull(settings, Window(DAY, DAY), "orders")
    with pytest.raises(Exception, match="prepare step"):
        orchestration.pull(settings, Window(DAY, DAY), "sales_lines")


def test_real_guard_sees_the_same_batches_after_the_parquet_detour(tmp_path: Path) -> None:
    """The actual validation guard accepts the demo's first day whether the batches come
    straight from the source or back from the run folder's Parquet files (the first day:
    later days refer to invoices an empty warehouse does not hold)."""
    guard = pytest.importorskip("customer_tiering.validate")
    first_day = date(2024, 1, 1)
    settings = small_settings(tmp_path)
    window = Window(first_day, first_day)
    orchestration.prepare(settings, window)
    for table in TABLES:
        orchestration.pull(settings, window, table)
    source = open_source(settings)
    direct = {
        table: pulling.pull_table(
            source, table, set(), first_day, first_day, settings.lookback_days
        )
        for table in TABLES
    }
    guard.validate_batches(settings, direct, first_day, first_day)
    orchestration.validate(settings, window)


# --- planning, snapshot, report, housekeeping -----------------------------------------


def fake_marts(warehouse: Path, as_of: date) -> None:
    """A tiny published schema, standing in for what dbt builds and publishing promotes."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists marts")
        for table in ("customer_tiers", "customer_tier_history"):
            con.execute(
                f"create or replace table marts.{table} as select * from (values"
                " ('C1', 'A', 80.0, 100.0, 'gross_profit', 'cumulative_share', ?::date),"
                " ('C2', 'B', 20.0, 50.0, 'gross_profit', 'cumulative_share', ?::date))"
                " as t(customer_id, tier, contribution, revenue, basis, cut_method, as_of_date)",
                [as_of, as_of],
            )
        con.execute(
            "create or replace view marts.tier_counts as select tier, count(*) as n"
            " from marts.customer_tiers group by tier"
        )


def test_the_snapshot_is_replaced_under_a_reader(tmp_path: Path) -> None:
    settings = small_settings(tmp_path)
    fake_marts(settings.warehouse, DAY)
    snapshot = publish.bi_snapshot_path(settings.warehouse)
    tables = publish.export_snapshot(settings.warehouse, snapshot)
    assert tables == ["customer_tier_history", "customer_tiers", "tier_counts"]
    with duckdb.connect(str(snapshot), read_only=True) as reader:
        assert reader.execute("select count(*) from marts.customer_tiers").fetchone()[0] == 2
        # A reader holding the old snapshot does not block the next one.
        fake_marts(settings.warehouse, DAY + timedelta(days=1))
        publish.export_snapshot(settings.warehouse, snapshot)
        assert (
            reader.execute("select max(as_of_date) from marts.customer_tiers").fetchone()[0] == DAY
        )
    with duckdb.connect(str(snapshot), read_only=True) as fresh:
        assert fresh.execute("select max(as_of_date) from marts.customer_tiers").fetchone()[
            0
        ] == DAY + timedelta(days=1)


def test_a_build_plans_its_days(tmp_path: Path, accept_all: list) -> None:
    """History from the run's first day or the earliest pending day, or the first loaded
    day for a full refresh; as of the run's last day or the latest published day."""
    settings = small_settings(tmp_path)
    days = [DAY + timedelta(days=offset) for offset in range(3)]
    for day in days:
        run_steps_until_load(settings, Window(day, day))

    def plan(window: Window) -> tuple[date, date]:
        return pipeline.plan(pipeline.RunContext(settings, window, pipeline.MemoryStore()))

    # Nothing published yet: the three loaded days are all pending.
    assert plan(Window(days[-1], days[-1])) == (DAY, days[-1])
    with DuckDBWarehouse(settings.warehouse).connect() as con:
        con.execute("delete from raw._pending")
    assert plan(Window(days[-1], days[-1])) == (days[-1], days[-1])
    assert plan(Window(days[-1], days[-1], full_refresh=True)) == (DAY, days[-1])
    # An older day after a newer one: as of the latest published day.
    fake_marts(settings.warehouse, days[-1] + timedelta(days=10))
    assert plan(Window(DAY, DAY)) == (DAY, days[-1] + timedelta(days=10))


def test_report_summarises_and_prunes(tmp_path: Path) -> None:
    settings = small_settings(tmp_path)
    window = Window(DAY, DAY)
    fake_marts(settings.warehouse, DAY)
    orchestration.prepare(settings, window)
    publish.export_snapshot(settings.warehouse, publish.bi_snapshot_path(settings.warehouse))
    text = orchestration.report(settings, window)
    assert "A: 1 customers" in text
    assert "(as of 2024-03-05" in text
    summary = orchestration.read_json(orchestration.run_dir(settings, window) / "summary.json")
    assert summary["window"]["end"] == "2024-03-05"
    runs = settings.warehouse.resolve().parent / ".runs"
    for index in range(5):
        (runs / f"old-{index}").mkdir()
    assert len(orchestration.prune_runs(settings, keep=2)) == 4
    assert len(list(runs.iterdir())) == 2


def test_failure_summary_is_one_paragraph() -> None:
    text = orchestration.failure_summary(
        "customer_tiering",
        "validate",
        datetime(2024, 3, 5, tzinfo=UTC),
        InputRefused("sales_lines 2024-03-05:\n  3 rows with null net_amount"),
    )
    assert "\n" not in text
    for part in ("customer_tiering", "validate", "2024-03-05", "not retried", "null net_amount"):
        assert part in text
    assert "failed" in orchestration.failure_summary("d", "load", None, RuntimeError("disk full"))
    try:
        try:
            raise InputRefused("sales_lines refused")
        except InputRefused as refused:
            raise RuntimeError("wrapped by the DAG") from refused
    except RuntimeError as wrapper:
        text = orchestration.failure_summary("d", "validate", None, wrapper)
    assert "input refused (not retried)" in text
    assert "InputRefused: sales_lines refused" in text


def test_settings_from_variables(tmp_path: Path) -> None:
    config = tmp_path / "tiering.yml"
    config.write_text("source: demo\ndemo: {customers: 60, lines_per_day: 40}\n", "utf-8")
    settings = orchestration.run_settings(str(config), str(tmp_path / "w.duckdb"), None)
    assert settings.warehouse == tmp_path / "w.duckdb"
    assert settings.demo.customers == 60


def test_loaded_days_of_a_new_warehouse_is_empty(tmp_path: Path) -> None:
    settings = small_settings(tmp_path)
    assert pipeline.loaded_days(settings) == {table: set() for table in TABLES}
    with DuckDBWarehouse(settings.warehouse).connect() as con:
        con.execute("select 1")
    assert pipeline.loaded_days(settings) == {table: set() for table in TABLES}
