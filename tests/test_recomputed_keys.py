"""The key tests of the tables that grow by day (tests/generic/unique_in_recomputed_days.sql).

A build checks only the days it recomputes, and reads earlier days only inside the
recomputed keys' min..max (so a daily check does not grow with history). These run the
real dbt test on a copy of the demo warehouse: the last loaded day passes as loaded, and
fails once one of its lines carries the id of a line loaded long before, whether that id
is the smallest of the day's keys or inside their range.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from customer_tiering import transform
from customer_tiering.errors import TransformError
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse
from tests.conftest import DEMO_END, DEMO_START
from tests.test_pipeline import copy_warehouse

SALES_LINES_KEY_TEST = "source_unique_in_recomputed_days_erp_sales_lines_line_id___business_date"


def key_test(warehouse: Path) -> None:
    """dbt's key test of raw sales lines, recomputing DEMO_END only."""
    target = DuckDBWarehouse(warehouse)
    transform.run_dbt(
        [*transform.dbt_args("test", target), "--select", SALES_LINES_KEY_TEST],
        target,
        env={transform.AS_OF_ENV: str(DEMO_END), transform.HISTORY_START_ENV: str(DEMO_END)},
    )


def reuse_early_id(warehouse: Path, inside_range: bool) -> None:
    """Give DEMO_END's last line the id of a line of DEMO_START: then the day's smallest
    key, or, `inside_range`, first renamed to sort between the day's first and last ids
    (demo ids grow with the date; an ERP's need not)."""
    with duckdb.connect(str(warehouse)) as con:
        day_min, day_max = con.execute(
            "select min(line_id), max(line_id) from raw.sales_lines where _business_date = ?",
            [DEMO_END],
        ).fetchone()
        early = con.execute(
            "select min(line_id) from raw.sales_lines where _business_date = ?", [DEMO_START]
        ).fetchone()[0]
        if inside_range:
            inside = f"{day_min}-0"
            assert day_min < inside < day_max
            con.execute("update raw.sales_lines set line_id = ? where line_id = ?", [inside, early])
            early = inside
        con.execute("update raw.sales_lines set line_id = ? where line_id = ?", [early, day_max])


def test_the_last_day_as_loaded_passes(demo_warehouse: Path, tmp_path: Path) -> None:
    key_test(copy_warehouse(demo_warehouse, tmp_path).warehouse)


@pytest.mark.parametrize("inside_range", [False, True], ids=["smallest key", "inside the range"])
def test_an_id_loaded_on_an_earlier_day_fails_the_build(
    demo_warehouse: Path, tmp_path: Path, inside_range: bool
) -> None:
    warehouse = copy_warehouse(demo_warehouse, tmp_path).warehouse
    reuse_early_id(warehouse, inside_range)
    with pytest.raises(TransformError) as refused:
        key_test(warehouse)
    assert SALES_LINES_KEY_TEST in str(refused.value)
    assert "fail" in str(refused.value)
