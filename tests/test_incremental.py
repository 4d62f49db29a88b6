"""The incremental day layers: a late correction recomputes exactly what a full rebuild gives.

int_sales_lines_priced and int_customer_days_aggregated keep every loaded day and a build
recomputes only the days from its history start (customer_tiering/transform.py). A day
corrected long after it was published must change the published tables exactly as
rebuilding everything from the raw tables would, including the days after it whose peer
prices and trailing windows read it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from customer_tiering import pipeline, publish, transform
from customer_tiering.sources.demo import DemoSource
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse
from tests.conftest import (
    DEMO_END,
    DEMO_NEXT_DAY,
    DEMO_SCALE,
    WHOLE_EXPORTS,
    copy_demo_folder,
    published_checksums,
    table_checksum,
)
from tests.test_pipeline import copy_warehouse

CORRECTED_DAY = DEMO_END - timedelta(days=200)  # a Saturday: sales, no payments
PAYMENT_CORRECTED_DAY = CORRECTED_DAY + timedelta(days=2)


class CorrectedSource:
    """The demo source with CORRECTED_DAY corrected (a day delivered again, smaller): its
    largest order cancelled and every line of one customer withdrawn; and the largest
    payment of PAYMENT_CORRECTED_DAY withdrawn (its invoice is open again from then on)."""

    name = "demo, corrected"

    def __init__(self) -> None:
        self.demo = DemoSource(
            DEMO_SCALE["seed"], DEMO_SCALE["customers"], DEMO_SCALE["lines_per_day"]
        )

    def pull_range(
        self, table: str, start: date, end: date, known_at: date | None = None
    ) -> pd.DataFrame:
        frame = self.demo.pull_range(table, start, end, known_at)
        if table == "ar_payments":
            on_day = pd.to_datetime(frame["payment_date"]) == pd.Timestamp(PAYMENT_CORRECTED_DAY)
            largest = frame[on_day]["amount"].astype(float).idxmax()
            return frame.drop(index=largest).reset_index(drop=True)
        if table != "sales_lines":
            return frame
        on_day = pd.to_datetime(frame["order_date"]) == pd.Timestamp(CORRECTED_DAY)
        day = frame[on_day]
        largest_order = day.groupby("order_id")["net_amount"].sum().idxmax()
        withdrawn_customer = day["customer_id"].iloc[0]
        dropped = on_day & (
            (frame["order_id"] == largest_order) | (frame["customer_id"] == withdrawn_customer)
        )
        return frame[~dropped].reset_index(drop=True)


def lines_on(warehouse: Path, day: date) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select count(*) from intermediate.int_sales_lines_priced where order_date = ?", [day]
        ).fetchall()[0][0]


def settlements_changed(before: Path, after: Path) -> int:
    """Invoices whose paid amount differs between two warehouses."""
    with duckdb.connect(str(after), read_only=True) as con:
        con.execute(f"attach '{before}' as before (read_only)")
        return con.execute(
            "select count(*) from intermediate.int_invoices_settled as now"
            " join before.intermediate.int_invoices_settled as was using (invoice_id)"
            " where now.paid_amount <> was.paid_amount"
        ).fetchall()[0][0]


def test_a_correction_200_days_back_equals_a_full_rebuild(
    demo_warehouse: Path, tmp_path: Path
) -> None:
    before = published_checksums(demo_warehouse)
    lines_before = lines_on(demo_warehouse, CORRECTED_DAY)

    incremental = copy_warehouse(demo_warehouse, tmp_path / "incremental")
    result = pipeline.run(
        incremental, CORRECTED_DAY, PAYMENT_CORRECTED_DAY, source=CorrectedSource()
    )
    assert result.changed_days["sales_lines"] == [CORRECTED_DAY]
    assert result.changed_days["ar_payments"] == [PAYMENT_CORRECTED_DAY]
    assert (result.history_start, result.as_of) == (CORRECTED_DAY, DEMO_END)
    assert lines_on(incremental.warehouse, CORRECTED_DAY) < lines_before

    rebuilt = copy_warehouse(incremental.warehouse, tmp_path / "rebuilt")
    # Forget the layers: dbt --full-refresh.
    transform.record_built(DuckDBWarehouse(rebuilt.warehouse), None)
    pipeline.run(rebuilt, DEMO_END, DEMO_END, full_refresh=True)

    after = published_checksums(incremental.warehouse)
    assert after == published_checksums(rebuilt.warehouse)
    settled = "intermediate.int_invoices_settled"
    assert table_checksum(incremental.warehouse, settled) == table_checksum(
        rebuilt.warehouse, settled
    )
    assert settlements_changed(demo_warehouse, incremental.warehouse) == 1
    assert after["marts.customer_tier_history"] != before["marts.customer_tier_history"]


def test_a_daily_run_applies_its_changes_to_the_bi_snapshot(demo_next_day: Path) -> None:
    """The snapshot holding the previous publication gets only the new day and the
    latest-only marts, and ends equal to the published tables (demo_next_day: the daily
    run of the day after the demo's last on a copy of the demo warehouse's folder, its
    BI snapshot included)."""
    whole_exports = json.loads((demo_next_day.parent.parent / WHOLE_EXPORTS).read_text())
    assert whole_exports == [], "the whole schema was exported again"
    snapshot = publish.bi_snapshot_path(demo_next_day)
    assert snapshot.exists()
    published_tables = published_checksums(demo_next_day)
    in_snapshot = {table: table_checksum(snapshot, table) for table in published_tables}
    assert in_snapshot == published_tables
    with duckdb.connect(str(snapshot), read_only=True) as con:
        latest = con.execute("select max(as_of_date) from marts.customer_tier_history").fetchall()
    assert latest[0][0] == DEMO_NEXT_DAY


@contextmanager
def reader_holding(database: Path) -> Iterator[None]:
    """Another process with `database` open read-only, as a BI tool keeps it."""
    code = (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1], read_only=True);"
        " print('open', flush=True); time.sleep(600)"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", code, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "open"
        yield
    finally:
        reader.kill()
        reader.wait()


def test_successive_daily_runs_write_into_the_spare_snapshot(
    demo_next_day: Path, tmp_path: Path
) -> None:
    """A daily run after a daily run brings the spare snapshot (the file before the current
    one) up to date in place and swaps it in, rather than copying the current file; while
    a BI tool holds the spare open, it copies the current file. Every snapshot equals the
    published tables."""
    settings = copy_demo_folder(demo_next_day, tmp_path / "wh")
    snapshot = publish.bi_snapshot_path(settings.warehouse)
    spare = publish.spare_snapshot(snapshot)
    assert spare.exists(), "the daily run kept no spare"

    def published_in_snapshot() -> bool:
        published = published_checksums(settings.warehouse)
        return published == {table: table_checksum(snapshot, table) for table in published}

    spare_file, current_file = spare.stat().st_ino, snapshot.stat().st_ino
    pipeline.run(settings, DEMO_NEXT_DAY + timedelta(days=1), DEMO_NEXT_DAY + timedelta(days=1))
    assert snapshot.stat().st_ino == spare_file, "the spare was not the file swapped in"
    assert spare.stat().st_ino == current_file
    assert published_in_snapshot()

    spare_file, current_file = spare.stat().st_ino, snapshot.stat().st_ino
    with reader_holding(spare):  # a BI tool still reading the old file
        pipeline.run(settings, DEMO_NEXT_DAY + timedelta(days=2), DEMO_NEXT_DAY + timedelta(days=2))
    assert snapshot.stat().st_ino not in (spare_file, current_file), "a held spare was written"
    assert spare.stat().st_ino == current_file
    assert published_in_snapshot()
    with duckdb.connect(str(snapshot), read_only=True) as con:
        latest = con.execute("select max(as_of_date) from marts.customer_tier_history").fetchall()
    assert latest[0][0] == DEMO_NEXT_DAY + timedelta(days=2)
