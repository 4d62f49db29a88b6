"""Shared fixtures: a source serving hand-made frames, table checksums, a pandas tier oracle."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from filelock import FileLock

from customer_tiering.config import Settings
from customer_tiering.contract import BUSINESS_DATE, TABLES

# Fixtures every module may ask for: a real PostgreSQL server (tests/postgres.py).
pytest_plugins = ["tests.postgres"]


class FrameSource:
    """A source over in-memory frames, for fixtures small enough to compute by hand.

    Fact tables are filtered by their date column; master frames are delivered as one
    snapshot dated on the first day pulled."""

    name = "frames"

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = {table: frames.get(table, empty_frame(table)) for table in TABLES}

    def pull_range(
        self, table: str, start: date, end: date, known_at: date | None = None
    ) -> pd.DataFrame:
        # Ids as text, as every real source delivers them (customer_tiering.sources.conform).
        frame = self.frames[table].copy()
        for column in TABLES[table].id_columns:
            if column in frame.columns:
                frame[column] = frame[column].map(lambda v: None if pd.isna(v) else str(v))
        spec = TABLES[table]
        if spec.is_master:
            frame[BUSINESS_DATE] = pd.Timestamp(start)
            return frame
        dates = pd.to_datetime(frame[spec.date_column])
        return frame[(dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))].reset_index(
            drop=True
        )


def tiering_command(config: Path, *args: str) -> list[str]:
    """The command line `tiering --config CONFIG ARGS...` as a separate process runs it."""
    import sys

    return [sys.executable, "-m", "customer_tiering.cli", "--config", str(config), *args]


def pull_batches(settings: Settings, source: object, start: date, end: date) -> dict:
    """Every table's batch for start..end as a run pulls it (the warehouse's loaded days
    decide which recent days are pulled again), as one chunk."""
    from customer_tiering import pipeline
    from customer_tiering.window import Window

    window = Window(start, end)
    ctx = pipeline.RunContext(settings, window, pipeline.MemoryStore())
    ctx.settings = settings.model_copy(update={"chunk": (end - start).days + 1})
    pipeline.prepare(ctx)
    pipeline.pull_all(ctx, window, source)  # type: ignore[arg-type]
    return ctx.store.batches(window, TABLES)


def load_batches(settings: Settings, batches: dict) -> dict[str, list[date]]:
    """Load batches into the warehouse's raw schema as a build's load step does."""
    from customer_tiering import load
    from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse

    with DuckDBWarehouse(settings.warehouse).connect() as con:
        return load.load(con, batches)


def empty_frame(table: str) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="object") for column in TABLES[table].columns})


def sales_frame(rows: list[tuple[str, date, float, float]]) -> pd.DataFrame:
    """Sales lines from (customer_id, order_date, net_amount, cost_amount); one line per order,
    quantity 1 (or -1 for a negative amount, a return)."""
    records = []
    for line_id, (customer_id, order_date, net_amount, cost_amount) in enumerate(rows, start=1):
        quantity = -1 if net_amount < 0 else 1
        records.append(
            {
                "line_id": f"L{line_id:06d}",
                "order_id": f"SO-{line_id:06d}",
                "order_date": pd.Timestamp(order_date),
                "customer_id": customer_id,
                "product_id": "P1",
                "quantity": quantity,
                "unit_price": abs(net_amount),
                "discount_amount": 0.0,
                "net_amount": net_amount,
                "cost_amount": cost_amount,
            }
        )
    return pd.DataFrame.from_records(records, columns=list(TABLES["sales_lines"].columns))


def customers_frame(customer_ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": customer_ids,
            "name": [f"Customer {c}" for c in customer_ids],
            "region": "North",
            "channel": "retail",
            "created_date": pd.Timestamp("2020-01-01"),
            "credit_limit": 10000.0,
            "blocked": False,
        }
    )


def oracle_tiers(
    lines: pd.DataFrame,
    as_of: date,
    costs: pd.DataFrame | None = None,
    invoices: pd.DataFrame | None = None,
    payments: pd.DataFrame | None = None,
    window_days: int = 365,
    basis: str = "gross_profit",
    cut_method: str = "cumulative_share",
    a_share: str = "0.80",
    b_share: str = "0.95",
    a_count: str = "0.20",
    b_count: str = "0.30",
) -> dict[str, str]:
    """ABC tiers per DOMAIN.md §1 computed in plain pandas/Decimal, independently of dbt.
    `costs` (cost_to_serve rows) is needed for the customer_profit basis. Customers with a
    cost entry in the window or (given `invoices` and `payments`) an open receivable on
    `as_of` but no sales line in the window get a row too: D, with no share."""

    def in_window(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        dates = pd.to_datetime(frame[column]).dt.date
        return frame[(dates > as_of - timedelta(days=window_days)) & (dates <= as_of)]

    def money(values: pd.Series) -> pd.Series:
        return values.map(lambda v: Decimal(str(v)).quantize(Decimal("0.01")))

    window = in_window(lines, "order_date")
    totals = (
        window.assign(revenue=money(window["net_amount"]), cost=money(window["cost_amount"]))
        .groupby("customer_id")
        .agg(revenue=("revenue", "sum"), cost=("cost", "sum"))
    )
    totals["gross_profit"] = totals["revenue"] - totals["cost"]
    if costs is not None:
        served = in_window(costs, "entry_date")
        to_serve = served.assign(amount=money(served["amount"])).groupby("customer_id")["amount"]
        totals["customer_profit"] = totals["gross_profit"] - to_serve.sum().reindex(
            totals.index, fill_value=Decimal(0)
        )
    contribution = totals[basis]
    positive = sorted(
        ((value, customer) for customer, value in contribution.items() if value > 0),
        key=lambda pair: (-pair[0], pair[1]),
    )
    total = sum(value for value, _ in positive)
    tiers = {customer: "D" for customer, value in contribution.items() if value <= 0}
    without_sales: set[str] = set()
    if costs is not None:
        without_sales |= set(in_window(costs, "entry_date")["customer_id"])
    if invoices is not None:
        owed = open_balances(invoices, payments, as_of)
        without_sales |= set(owed[owed > 0].index)
    tiers |= {customer: "D" for customer in without_sales - set(contribution.index)}
    before = Decimal(0)
    for position, (value, customer) in enumerate(positive):
        if cut_method == "cumulative_share":
            start = before
            limits = (total * Decimal(a_share), total * Decimal(b_share))
        else:
            start = Decimal(position)
            count = Decimal(len(positive))
            limits = (count * Decimal(a_count), count * (Decimal(a_count) + Decimal(b_count)))
        tiers[customer] = "A" if start < limits[0] else "B" if start < limits[1] else "C"
        before += value
    return tiers


def open_balances(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: date) -> pd.Series:
    """Invoiced minus paid per customer, both dated on or before `as_of`, in Decimal."""

    def upto(frame: pd.DataFrame, column: str) -> pd.Series:
        dated = frame[pd.to_datetime(frame[column]).dt.date <= as_of]
        amounts = dated["amount"].map(lambda v: Decimal(str(v)).quantize(Decimal("0.01")))
        return amounts.groupby(dated["customer_id"]).sum()

    paid = upto(payments, "payment_date") if payments is not None else pd.Series(dtype=object)
    return upto(invoices, "invoice_date").sub(paid, fill_value=Decimal(0))


def table_checksum(warehouse: Path, table: str) -> str:
    """md5 over every row of `table` (sorted, so row order does not matter), load
    timestamps left out."""
    schema, name = table.split(".")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = [
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            ).fetchall()
            if row[0] not in ("_loaded_at", "loaded_at")
        ]
        return con.execute(
            "select md5(coalesce(string_agg(line, chr(10) order by line), ''))"
            f" from (select cast(t as varchar) as line from (select {', '.join(columns)}"
            f" from {table}) as t)"
        ).fetchone()[0]


def warehouse_tables(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
                " where table_type = 'BASE TABLE' and table_schema in ('raw', 'marts')"
                " order by 1, 2"
            ).fetchall()
        ]


def published_checksums(warehouse: Path) -> dict[str, str]:
    """Checksum of every published table (schema marts)."""
    return {
        table: table_checksum(warehouse, table)
        for table in warehouse_tables(warehouse)
        if table.startswith("marts.")
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        warehouse=tmp_path / "warehouse" / "tiers.duckdb", quarantine=tmp_path / "quarantine"
    )


# --- test order and pytest-xdist work units ---------------------------------------------

# `make test` runs the suite on pytest-xdist workers with `--dist loadscope`: each module
# is one unit of work, run on one worker, so a module-scoped fixture is built once. The
# modules below are spread test by test instead (their tests share nothing but session
# fixtures, which build_once builds once for all workers); pytest_collection_modifyitems
# refuses a module-scoped fixture in one of them.
SPREAD = (
    "test_incremental",
    "test_pipeline",
    "test_raw_migration",
    "test_benchmark_smoke",
    "test_cli",
    "test_exports",
    "test_dbt_unit",
    "test_sources_files",
    "test_validate",
)

# The slowest modules, run first so that none of them is left to run alone at the end:
# the real Airflow scheduler and the dbt build on Spark (one test of several minutes)
# first, then by their time in a serial run. Every other module follows, in collection order.
SLOW_FIRST = (
    "test_airflow_integration",
    "test_spark_target",
    "test_spark_pipeline",
    "test_publish_safety",
    "test_run_order",
    "test_dag_integrity",
    "test_incremental",
    "test_pipeline",
    "test_raw_migration",
    "test_benchmark_smoke",
    "test_outlook_alerts",
    "test_pipeline_chunks",
    "test_tier_edges",
    "test_rules",
    "test_tier_report",
    "test_cli",
    "test_exports",
    "test_tier_rows",
    "test_dbt_unit",
    "test_sources_files",
    "test_sources_sql",
)


def _module(nodeid: str) -> str:
    return Path(nodeid.split("::", 1)[0]).stem


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the slowest modules first (a stable sort: a module's tests keep their order);
    check that no test of a SPREAD module uses a module-scoped fixture."""
    rank = {name: place for place, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(_module(item.nodeid), len(rank)))
    for item in items:
        if _module(item.nodeid) not in SPREAD:
            continue
        definitions = getattr(item, "_fixtureinfo", None)
        for name, defs in definitions.name2fixturedefs.items() if definitions else ():
            if defs and defs[-1].scope not in ("function", "session"):
                raise pytest.UsageError(
                    f"{item.nodeid}: fixture {name} is {defs[-1].scope}-scoped, but"
                    " tests/conftest.py SPREADs this module's tests over xdist workers"
                )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadscope` with SPREAD modules' tests as units of their own."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleOrTestScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if _module(nodeid) in SPREAD:
                return nodeid
            return nodeid.split("::", 1)[0]

    return ModuleOrTestScheduling(config, log)


def apt_lock() -> FileLock:
    """Held around a test's `apt-get install` (Chromium, PostgreSQL): xdist workers (or
    two checkouts' test runs) installing at once would fail on dpkg's lock."""
    return FileLock("/tmp/customer-tiering-tests-apt.lock", timeout=1800)


# --- built once per test session, shared by every pytest-xdist worker ----------------------


def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every process of this test session sees: the session's base temp folder,
    or under pytest-xdist the folder that holds every worker's base temp folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(folder: Path, make: Callable[[Path], None]) -> Path:
    """`make(folder)` unless another process of the session already did: the first to
    ask builds it under a file lock, the others wait and then use what it built. Whoever
    gets it must treat it as read-only (copy it first to change anything)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    done = folder.parent / f"{folder.name}.built"
    with FileLock(str(folder.parent / f"{folder.name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed attempt left
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


DEMO_SCALE = {"seed": 7, "customers": 150, "lines_per_day": 150}
DEMO_START, DEMO_END = date(2024, 1, 1), date(2025, 12, 31)


def build_demo(folder: Path) -> None:
    """Two years of small-scale demo data through the whole pipeline, into `folder`. One
    chunk for the whole window: chunked loading is tests/test_pipeline_chunks.py's subject,
    and equals one chunk; here 24 monthly validations would only cost time."""
    from customer_tiering import pipeline
    from customer_tiering.config import DemoSettings

    settings = Settings(
        warehouse=folder / "tiers.duckdb",
        quarantine=folder / "quarantine",
        demo=DemoSettings(**DEMO_SCALE),
        chunk=(DEMO_END - DEMO_START).days + 1,
    )
    pipeline.run(settings, DEMO_START, DEMO_END)


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two years of small-scale demo data run through the whole pipeline once per session
    (once for all pytest-xdist workers): the warehouse file; beside it its BI snapshot,
    report and dbt state.

    Tests must treat it as read-only (copy it first to change anything)."""
    return build_once(shared_dir(tmp_path_factory) / "demo", build_demo) / "tiers.duckdb"


def demo_settings(folder: Path) -> Settings:
    """Settings on the demo warehouse folder `folder` (a copy of demo_warehouse's)."""
    from customer_tiering.config import DemoSettings

    return Settings(
        warehouse=folder / "tiers.duckdb",
        quarantine=folder / "quarantine",
        demo=DemoSettings(**DEMO_SCALE),
    )


def copy_demo_folder(warehouse: Path, target: Path) -> Settings:
    """A writable copy of a demo warehouse's folder (warehouse, BI snapshot, report, dbt
    state), with settings pointing at it."""
    shutil.copytree(warehouse.parent, target)
    return demo_settings(target)


DEMO_NEXT_DAY = DEMO_END + timedelta(days=1)
WHOLE_EXPORTS = "whole_exports.json"


@pytest.fixture(scope="session")
def demo_next_day(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The daily run of DEMO_NEXT_DAY on a copy of demo_warehouse's folder, once per
    session (tests/test_pipeline.py and tests/test_incremental.py each used to run it
    again): the warehouse file. Beside it, WHOLE_EXPORTS lists the warehouses whose whole
    published schema that run exported to the BI snapshot (instead of applying its
    changes to the snapshot of the previous publication).

    Tests must treat it as read-only (copy it first to change anything)."""
    from customer_tiering import pipeline, publish

    def make(folder: Path) -> None:
        settings = copy_demo_folder(demo_warehouse, folder / "wh")
        exported: list[str] = []
        whole_export = publish.export_snapshot

        def recorded(warehouse: Path, *args: object, **kwargs: object) -> object:
            exported.append(str(warehouse))
            return whole_export(warehouse, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(publish, "export_snapshot", recorded)
            pipeline.run(settings, DEMO_NEXT_DAY, DEMO_NEXT_DAY)
        (folder / WHOLE_EXPORTS).write_text(json.dumps(exported), encoding="utf-8")

    return build_once(shared_dir(tmp_path_factory) / "demo_next_day", make) / "wh" / "tiers.duckdb"
