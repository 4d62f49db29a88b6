"""The demo's Parquet writer delivers what `tiering demo export` delivers.

`write_parquet_drops` streams the generator's arrays into day files instead of going
through whole-table pandas frames; the files source must read the very same frames from
its output as from the export's, over a range that crosses a month, starts before the
demo epoch, ends before a late day's rows are known and holds master changes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

from customer_tiering.contract import TABLES
from customer_tiering.sources import files
from customer_tiering.sources.demo import DemoSource
from customer_tiering.sources.demo.drops import write_parquet_drops
from customer_tiering.sources.files import FilesSource

# 2024-02-15 is a late day of this demo: its late rows are known from 02-18, after END.
START, END = date(2023, 12, 30), date(2024, 2, 17)


@pytest.fixture(scope="module")
def landings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    fast, slow = tmp_path_factory.mktemp("fast"), tmp_path_factory.mktemp("export")
    source = DemoSource(customers=60, lines_per_day=80)
    assert source.late_days(START, END) == [date(2024, 2, 15)]
    written = write_parquet_drops(source, START, END, fast)
    assert written == files.export(
        DemoSource(customers=60, lines_per_day=80), START, END, slow, "parquet"
    )
    return fast, slow


def test_same_files(landings: tuple[Path, Path]) -> None:
    fast, slow = landings
    names = lambda root: sorted(p.relative_to(root) for p in root.rglob("*.parquet"))  # noqa: E731
    assert names(fast) == names(slow)
    assert len(list((fast / "customers").iterdir())) > 1  # new customers arrive weekly


@pytest.mark.parametrize("table", list(TABLES))
def test_files_source_reads_the_same_frames(landings: tuple[Path, Path], table: str) -> None:
    fast, slow = landings
    got = FilesSource(fast).pull_range(table, START, END)
    want = FilesSource(slow).pull_range(table, START, END)
    assert len(got) > 0
    assert_frame_equal(got, want)
