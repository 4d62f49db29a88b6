"""A long window is pulled, validated and loaded in chunks: the tables equal those of the
same window in one chunk, and a chunk refused after others were loaded publishes nothing,
quarantines its batch and leaves the loaded chunks pending for the next run.

Real demo data, real dbt, a tiny chunk (10 days) so two months make six chunks.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from customer_tiering import pipeline
from customer_tiering.config import DemoSettings, Settings
from customer_tiering.errors import InputRefused
from customer_tiering.quarantine import RESULT_FILE
from customer_tiering.sources.demo import DemoSource
from customer_tiering.window import Window
from tests.conftest import published_checksums, table_checksum, warehouse_tables

SCALE = {"seed": 11, "customers": 40, "lines_per_day": 30}
START, END = date(2024, 1, 1), date(2024, 2, 29)
# The next month, in 10-day chunks: 03-01..03-10, 03-11..03-20, 03-21..03-31.
NEXT_START, NEXT_END = date(2024, 3, 1), date(2024, 3, 31)
BAD_DAY = date(2024, 3, 15)  # in the second chunk


def settings_for(folder: Path, chunk: int | str) -> Settings:
    return Settings(
        warehouse=folder / "tiers.duckdb",
        quarantine=folder / "quarantine",
        demo=DemoSettings(**SCALE),
        chunk=chunk,
    )


def everything(warehouse: Path) -> dict[str, str]:
    """Checksum of every raw table (the ledger included) and every published table."""
    return {table: table_checksum(warehouse, table) for table in warehouse_tables(warehouse)}


def copy_of(folder: Path, target: Path, chunk: int | str) -> Settings:
    shutil.copytree(folder, target)
    return settings_for(target, chunk)


class NullNetAmountOn:
    """The demo ERP, with one sales line of `day` missing its net amount."""

    name = "demo with a bad day"

    def __init__(self, day: date) -> None:
        self.base, self.day = DemoSource(**SCALE), pd.Timestamp(day)

    def pull_range(
        self, table: str, start: date, end: date, known_at: date | None = None
    ) -> pd.DataFrame:
        frame = self.base.pull_range(table, start, end, known_at)
        if table == "sales_lines":
            on_day = np.flatnonzero(pd.to_datetime(frame["order_date"]) == self.day)
            if len(on_day):
                frame.loc[on_day[0], "net_amount"] = np.nan
        return frame


@pytest.fixture(scope="module")
def one_chunk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """START..END run as one chunk: the folder of its warehouse."""
    folder = tmp_path_factory.mktemp("one_chunk")
    pipeline.run(settings_for(folder, chunk=366), START, END)
    return folder


def test_chunks_give_the_tables_of_one_chunk(one_chunk: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, chunk=10)
    assert len(Window(START, END).chunks(settings.chunk)) == 6
    pipeline.run(settings, START, END)
    chunked, whole = everything(settings.warehouse), everything(one_chunk / "tiers.duckdb")
    assert {"raw.sales_lines", "raw._batches", "marts.customer_tier_history"} <= set(whole)
    assert chunked == whole


def test_a_refused_second_chunk_publishes_nothing(one_chunk: Path, tmp_path: Path) -> None:
    settings = copy_of(one_chunk, tmp_path / "refused", chunk=10)
    before = published_checksums(settings.warehouse)
    with pytest.raises(InputRefused) as refused:
        pipeline.run(settings, NEXT_START, NEXT_END, source=NullNetAmountOn(BAD_DAY))
    message = str(refused.value)
    for part in (
        "sales_lines",
        BAD_DAY.isoformat(),
        "expect_column_values_to_not_be_null(net_amount)",
        "2024-03-01..2024-03-10 passed validation",
    ):
        assert part in message, message
    assert published_checksums(settings.warehouse) == before
    quarantined = sorted(settings.quarantine.glob(f"*/*/{RESULT_FILE}"))
    assert [path.parent.relative_to(settings.quarantine) for path in quarantined] == [
        Path("sales_lines", BAD_DAY.isoformat())
    ]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        pending = [row[0] for row in con.execute("select * from raw._pending").fetchall()]
        latest = con.execute("select max(_business_date) from raw.sales_lines").fetchone()[0]
    # The first chunk is loaded and waits to be published; nothing after it is loaded.
    assert pending and min(pending) == NEXT_START and max(pending) <= date(2024, 3, 10)
    assert latest == date(2024, 3, 10)

    # Once the source is fixed, the rerun equals a run that was never refused.
    reference = copy_of(one_chunk, tmp_path / "reference", chunk="month")
    pipeline.run(reference, NEXT_START, NEXT_END)
    pipeline.run(settings, NEXT_START, NEXT_END)
    assert everything(settings.warehouse) == everything(reference.warehouse)
