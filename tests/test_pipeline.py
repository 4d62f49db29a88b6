"""The whole pipeline on demo data: tiers equal an independent pandas oracle, runs are
idempotent, and a range equals its days run one by one. That tiers as of D ignore later
data is tests/test_rules.py::test_later_data_never_changes_any_mart_as_of_d (a build with
the later raw rows against one without them)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from customer_tiering import pipeline, transform
from customer_tiering.config import DemoSettings, Settings
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse
from tests.conftest import (
    DEMO_END,
    DEMO_NEXT_DAY,
    DEMO_SCALE,
    copy_demo_folder,
    oracle_tiers,
    table_checksum,
    warehouse_tables,
)

ORACLE_DATES = [date(2024, 6, 30), date(2025, 3, 15), date(2025, 12, 31)]


def copy_warehouse(source: Path, tmp_path: Path) -> Settings:
    """A writable copy of a warehouse, with settings pointing at it."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = tmp_path / "tiers.duckdb"
    shutil.copy(source, target)
    return Settings(
        warehouse=target, quarantine=tmp_path / "quarantine", demo=DemoSettings(**DEMO_SCALE)
    )


def checksums(warehouse: Path) -> dict[str, str]:
    """Checksum of every raw and published table (load timestamps left out)."""
    return {table: table_checksum(warehouse, table) for table in warehouse_tables(warehouse)}


def history_on(warehouse: Path, as_of: date, schema: str = "marts") -> pd.DataFrame:
    """Tier history on `as_of`: published (marts) or as a bare dbt build left it (marts_build)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"select * from {schema}.customer_tier_history where as_of_date = ?"
            " order by customer_id",
            [as_of],
        ).df()


def raw_frames(warehouse: Path) -> dict[str, pd.DataFrame]:
    """The raw rows the oracle reads: sales lines, cost to serve, invoices and payments
    (money as text, so the oracle's Decimals see the stored cents)."""
    queries = {
        "lines": "select customer_id, order_date, cast(net_amount as varchar) as net_amount,"
        " cast(cost_amount as varchar) as cost_amount from raw.sales_lines",
        "costs": "select customer_id, entry_date, cast(amount as varchar) as amount"
        " from raw.cost_to_serve",
        "invoices": "select customer_id, invoice_date, cast(amount as varchar) as amount"
        " from raw.ar_invoices",
        "payments": "select customer_id, payment_date, cast(amount as varchar) as amount"
        " from raw.ar_payments",
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {name: con.execute(sql).df() for name, sql in queries.items()}


@pytest.mark.parametrize(
    "rules",
    [
        {"tier_basis": "revenue"},
        {"tier_basis": "gross_profit", "abc_cut_method": "customer_count"},
    ],
    ids=["revenue-share", "gross_profit-count"],
)
def test_tiers_equal_pandas_oracle(demo_warehouse: Path, tmp_path: Path, rules) -> None:
    settings = copy_warehouse(demo_warehouse, tmp_path)
    # A bare dbt build: its tables stay in marts_build (publishing is the pipeline's).
    transform.build(DuckDBWarehouse(settings.warehouse), ORACLE_DATES[-1], ORACLE_DATES[0], rules)
    raw = raw_frames(settings.warehouse)
    for as_of in ORACLE_DATES:
        history = history_on(settings.warehouse, as_of, schema="marts_build")
        expected = oracle_tiers(
            raw["lines"],
            as_of,
            raw["costs"],
            raw["invoices"],
            raw["payments"],
            basis=rules["tier_basis"],
            cut_method=rules.get("abc_cut_method", "cumulative_share"),
        )
        assert len(expected) > 50
        assert dict(zip(history["customer_id"], history["abc_tier"], strict=True)) == expected
        assert set(history["basis"]) == {rules["tier_basis"]}
        tiers = set(expected.values())
        assert {"A", "B", "C"} <= tiers


def test_default_basis_equals_oracle(demo_warehouse: Path) -> None:
    """The published default (whatever basis the project's vars choose) matches the oracle."""
    raw = raw_frames(demo_warehouse)
    history = history_on(demo_warehouse, DEMO_END)
    basis = history["basis"].iloc[0]
    expected = oracle_tiers(
        raw["lines"], DEMO_END, raw["costs"], raw["invoices"], raw["payments"], basis=basis
    )
    assert dict(zip(history["customer_id"], history["abc_tier"], strict=True)) == expected


def test_contribution_is_long_tailed(demo_warehouse: Path) -> None:
    """A is a minority holding most of the contribution (a Pareto-like demo)."""
    history = history_on(demo_warehouse, DEMO_END)
    a = history[history["abc_tier"] == "A"]
    assert len(a) < 0.5 * len(history)
    assert a["share"].sum() >= 0.80 - 1e-9


def test_same_day_twice_is_idempotent(demo_next_day: Path, tmp_path: Path) -> None:
    """The day after the demo's last, run again: nothing changes (demo_next_day ran it
    once on a copy of the demo warehouse)."""
    first = checksums(demo_next_day)
    assert history_on(demo_next_day, DEMO_NEXT_DAY)["as_of_date"].nunique() == 1
    settings = copy_demo_folder(demo_next_day, tmp_path / "again")
    result = pipeline.run(settings, DEMO_NEXT_DAY, DEMO_NEXT_DAY)
    assert checksums(settings.warehouse) == first
    assert all(not days for days in result.changed_days.values())
    assert history_on(settings.warehouse, DEMO_NEXT_DAY)["as_of_date"].nunique() == 1


def test_a_daily_run_equals_a_long_range_on_its_day(
    demo_warehouse: Path, demo_next_day: Path, tmp_path: Path
) -> None:
    """The two ways the trailing windows are read give the same tier rows: a daily build
    joins each as-of row to its activity (a few as-of dates, int_customer_windows_summed),
    a range of more than seven days (dbt macro few_as_of_dates) slides window frames over
    a timeline. demo_next_day ran the day after the demo's last alone; here a two-week
    range ends on it, from a copy of the demo warehouse's folder."""
    ranged = copy_demo_folder(demo_warehouse, tmp_path / "range")
    pipeline.run(ranged, DEMO_NEXT_DAY - timedelta(days=13), DEMO_NEXT_DAY)
    from_range = history_on(ranged.warehouse, DEMO_NEXT_DAY)
    from_daily = history_on(demo_next_day, DEMO_NEXT_DAY)
    assert len(from_daily) > 30 and from_daily["active_months"].max() > 1
    assert from_daily["median_order_interval_days"].notna().any()
    pd.testing.assert_frame_equal(from_daily, from_range)


def test_both_window_timelines_give_the_same_history(demo_warehouse: Path, tmp_path: Path) -> None:
    """A range build's trailing windows over every as-of row and over the change points
    only (then an ASOF join, macros/windows.sql window_timeline) give the same tier
    history on every as-of date of a two-week range, rebuilt from copies of the demo
    warehouse's folder (the changed rule rebuilds the range)."""
    first, last = DEMO_END - timedelta(days=13), DEMO_END
    histories = {}
    for timeline in ("as_of_rows", "change_points"):
        settings = copy_demo_folder(demo_warehouse, tmp_path / timeline)
        settings = settings.model_copy(update={"rules": {"window_timeline": timeline}})
        result = pipeline.run(settings, first, last)
        assert result.history_start == first
        compiled = next(
            transform.state_dir(settings.warehouse).rglob("int_customer_windows_aggregated.sql")
        )
        assert ("asof left join" in compiled.read_text()) == (timeline == "change_points")
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            histories[timeline] = con.execute(
                "select * from marts.customer_tier_history where as_of_date between ? and ?"
                " order by as_of_date, customer_id",
                [first, last],
            ).df()
    rows = histories["as_of_rows"]
    assert rows["as_of_date"].nunique() == 14 and rows["yoy_growth"].notna().any()
    assert rows["median_order_interval_days"].notna().any() and rows["active_months"].max() > 1
    pd.testing.assert_frame_equal(rows, histories["change_points"])


def test_range_equals_days_one_by_one(
    demo_warehouse: Path, demo_next_day: Path, tmp_path: Path
) -> None:
    """Three days as one range equal the three daily runs (the first of them is
    demo_next_day's), both starting from copies of the demo warehouse's folder."""
    start, end = DEMO_NEXT_DAY, DEMO_NEXT_DAY + timedelta(days=2)
    ranged = copy_demo_folder(demo_warehouse, tmp_path / "range")
    daily = copy_demo_folder(demo_next_day, tmp_path / "daily")
    pipeline.run(ranged, start, end)
    for offset in range(1, (end - start).days + 1):
        pipeline.run(daily, start + timedelta(days=offset), start + timedelta(days=offset))
    range_sums, daily_sums = checksums(ranged.warehouse), checksums(daily.warehouse)
    assert "marts.customer_tier_history" in range_sums and "raw.sales_lines" in range_sums
    assert history_on(daily.warehouse, end)["as_of_date"].nunique() == 1
    assert range_sums == daily_sums
