"""ABC edge cases on hand-made fixtures, checked against hand-computed tiers and the oracle.

Each scenario sits on its own as-of date, more than a window apart from the others, so
one pipeline run (one dbt build) covers them all without their windows overlapping.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from customer_tiering import pipeline
from tests.conftest import FrameSource, customers_frame, oracle_tiers, sales_frame

BASE = date(2020, 1, 1)
SPACING = timedelta(days=400)

# scenario -> ({customer: net revenue in the window}, expected tiers). Cost is 0, so
# revenue and gross profit coincide. Each customer's amount is split over two days.
SCENARIOS: dict[str, tuple[dict[str, float], dict[str, str]]] = {
    "one customer": ({"S1": 120.0}, {"S1": "A"}),
    "alone over 80%": (
        {"O1": 90.0, "O2": 6.0, "O3": 4.0},
        {"O1": "A", "O2": "B", "O3": "C"},
    ),
    "boundaries exactly at 80% and 95%": (
        {"X1": 50.0, "X2": 30.0, "X3": 15.0, "X4": 5.0},
        {"X1": "A", "X2": "A", "X3": "B", "X4": "C"},
    ),
    "ties broken by customer id": (
        {"T2": 40.0, "T1": 40.0, "T3": 20.0},
        {"T1": "A", "T2": "A", "T3": "B"},
    ),
    "zero and negative contribution": (
        {"Z1": 100.0, "Z2": 0.0, "Z3": -10.0},
        {"Z1": "A", "Z2": "D", "Z3": "D"},
    ),
}


def scenario_date(index: int) -> date:
    return BASE + SPACING * index + timedelta(days=10)


@pytest.fixture(scope="module")
def edge_warehouse(tmp_path_factory: pytest.TempPathFactory):
    rows = []
    for index, (amounts, _) in enumerate(SCENARIOS.values()):
        as_of = scenario_date(index)
        for customer, amount in amounts.items():
            # Two lines a few days apart; a zero total is a sale fully returned.
            first = amount + 50.0 if amount <= 0 else amount / 2
            rows.append((customer, as_of - timedelta(days=5), first, 0.0))
            rows.append((customer, as_of - timedelta(days=1), amount - first, 0.0))
    lines = sales_frame(rows)
    customers = customers_frame(sorted({row[0] for row in rows}))
    source = FrameSource({"sales_lines": lines, "customers": customers})
    from customer_tiering.config import Settings

    tmp = tmp_path_factory.mktemp("edges")
    last = scenario_date(len(SCENARIOS) - 1)
    # One chunk for the whole window (chunking is tests/test_pipeline_chunks.py's subject):
    # 53 monthly validations of a handful of rows would only cost time.
    settings = Settings(
        warehouse=tmp / "tiers.duckdb",
        quarantine=tmp / "quarantine",
        chunk=(last - BASE).days + 1,
    )
    pipeline.run(settings, BASE, last, source=source)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        history = con.execute("select * from marts.customer_tier_history").df()
    return lines, history


@pytest.mark.parametrize("index,name", list(enumerate(SCENARIOS)))
def test_edge_scenario_tiers(edge_warehouse, index: int, name: str) -> None:
    lines, history = edge_warehouse
    as_of = scenario_date(index)
    amounts, expected = SCENARIOS[name]
    on_day = history[history["as_of_date"] == pd.Timestamp(as_of)]
    actual = dict(zip(on_day["customer_id"], on_day["abc_tier"], strict=True))
    assert actual == expected
    assert oracle_tiers(lines, as_of) == expected
    # Each share is the customer's own amount over the positive amounts' total (summing the
    # shares to one would hold whatever the shares were).
    positive_total = sum(amount for amount in amounts.values() if amount > 0)
    shares = dict(zip(on_day["customer_id"], on_day["share"], strict=True))
    assert shares == {
        customer: pytest.approx(max(amount, 0.0) / positive_total, abs=1e-12)
        for customer, amount in amounts.items()
    }
    for customer, amount in amounts.items():
        row = on_day[on_day["customer_id"] == customer].iloc[0]
        assert float(row["contribution"]) == pytest.approx(amount)
        if amount <= 0:
            assert row["reason_codes"] == "non_positive_contribution"
            assert row["share"] == 0 and pd.isna(row["cumulative_share"])
        else:
            # Tier rules may add their own codes (a customer with one month of orders is a
            # one_off_buyer); the ABC code is only for non-positive contribution.
            codes = row["reason_codes"]
            assert pd.isna(codes) or "non_positive_contribution" not in codes.split(";")


def test_boundary_customer_cumulative_share(edge_warehouse) -> None:
    """X2 ends exactly at 80% (still A), X3 starts there (B) and ends at 95%."""
    _, history = edge_warehouse
    on_day = history[history["as_of_date"] == pd.Timestamp(scenario_date(2))].set_index(
        "customer_id"
    )
    assert on_day.loc["X2", "cumulative_share"] == pytest.approx(0.80)
    assert on_day.loc["X3", "cumulative_share"] == pytest.approx(0.95)
    assert list(on_day.sort_values("contribution_rank").index) == ["X1", "X2", "X3", "X4"]


def test_customer_leaves_history_when_window_has_no_lines(edge_warehouse) -> None:
    """A customer with sales only (no cost to serve, no receivables) appears on the as-of
    dates whose window holds one of its lines, and no others."""
    _, history = edge_warehouse
    s1 = history[history["customer_id"] == "S1"]["as_of_date"].dt.date
    first_line = scenario_date(0) - timedelta(days=5)
    last_line = scenario_date(0) - timedelta(days=1)
    assert s1.min() == first_line
    assert s1.max() == last_line + timedelta(days=364)
    assert len(s1) == (s1.max() - s1.min()).days + 1
