"""Who gets a tier row (DOMAIN.md §1): every customer with a sales line or a cost-to-serve
entry in the window, or an open receivable balance, on hand-worked fixtures run through
the real pipeline (validation, raw load, dbt build).

A debtor that stopped buying and a customer that only cost money are D with their reason
codes, keep their credit flags and alerts, and move neither cut of the customers that do
contribute. The count cut's rounding (312 contributing customers, 63 A) is checked on a
second build with abc_cut_method = customer_count.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from customer_tiering import pipeline
from customer_tiering.config import Settings
from customer_tiering.contract import TABLES
from tests.conftest import FrameSource, customers_frame, oracle_tiers, sales_frame

# --- build 1: default rules (customer_profit basis, cumulative_share cut) ----------------

AS_OF = date(2024, 6, 30)
START = AS_OF - timedelta(days=400)  # DEBT1's last purchase, outside the 365-day window

# seller -> (revenue, cost of goods, cost to serve) in the window. Customer profit
# 500/300/120/50/30 of 1000: S1 starts at 0% (A), S2 at 50% (A), S3 exactly at 80% (B),
# S4 at 92% (B), S5 at 97% (C). Had COST1's -200 counted in the total, S3 would be C; had
# COST2's +40 taken a share, S3 would start below 80% of 1040 and be A.
SELLERS = {
    "S1": (1000.0, 400.0, 100.0),
    "S2": (500.0, 200.0, 0.0),
    "S3": (300.0, 150.0, 30.0),
    "S4": (100.0, 50.0, 0.0),
    "S5": (100.0, 70.0, 0.0),
}
SELLER_TIERS = {"S1": "A", "S2": "A", "S3": "B", "S4": "B", "S5": "C"}
# DEBT1 bought once, 400 days ago, and owes 8000 due 120 days ago against a limit of 8000.
# DEBT2 never bought (an opening balance): 6000 due 170 days ago, 500 paid.
# COST1 got samples and listing fees (200) without buying; COST2 only a rebate reversal (+40).
DEBTORS, COST_ONLY = ["DEBT1", "DEBT2"], ["COST1", "COST2"]


def days_before(days: int, as_of: date = AS_OF) -> pd.Timestamp:
    """A fixture date counted back from the as-of date, as the frames carry dates."""
    return pd.Timestamp(as_of - timedelta(days=days))


def invoices_frame(rows: list[tuple[int, str, pd.Timestamp, pd.Timestamp, float]]) -> pd.DataFrame:
    """ar_invoices from (invoice_id, customer_id, invoice_date, due_date, amount)."""
    return pd.DataFrame.from_records(rows, columns=list(TABLES["ar_invoices"].columns))


def payments_frame(rows: list[tuple[int, str, int, pd.Timestamp, float]]) -> pd.DataFrame:
    """ar_payments from (payment_id, customer_id, invoice_id, payment_date, amount)."""
    return pd.DataFrame.from_records(rows, columns=list(TABLES["ar_payments"].columns))


def costs_frame(rows: list[tuple[str, pd.Timestamp, str, float]]) -> pd.DataFrame:
    """cost_to_serve from (customer_id, entry_date, kind, amount), entry ids 1, 2, ..."""
    records = [(entry_id, *row) for entry_id, row in enumerate(rows, start=1)]
    frame = pd.DataFrame.from_records(
        records, columns=["entry_id", "customer_id", "entry_date", "kind", "amount"]
    )
    return frame[list(TABLES["cost_to_serve"].columns)]


def read_marts(warehouse: Path) -> dict[str, pd.DataFrame]:
    """The published marts a customer that matters must appear in."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            table: con.execute(f"select * from marts.{table}").df()
            for table in (
                "customer_tier_history",
                "customer_tiers",
                "customer_alerts",
                "customer_service_plan",
            )
        }


def run_frames(
    tmp: Path, frames: dict[str, pd.DataFrame], start: date, end: date, rules: dict
) -> Path:
    """One real pipeline run (validation, raw load, dbt build) over the frames, in one chunk
    (chunking is tests/test_pipeline_chunks.py's subject)."""
    settings = Settings(
        warehouse=tmp / "tiers.duckdb",
        quarantine=tmp / "quarantine",
        rules=rules,
        chunk=(end - start).days + 1,
    )
    pipeline.run(settings, start, end, source=FrameSource(frames))
    return settings.warehouse


@pytest.fixture(scope="module")
def rows_build(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Build 1 on the default rules: frames handed in and the marts read back."""
    sales = []
    for customer, (revenue, cogs, _) in SELLERS.items():
        sales += [(customer, AS_OF - timedelta(days=40), revenue / 2, cogs / 2)]
        sales += [(customer, AS_OF - timedelta(days=10), revenue / 2, cogs / 2)]
    sales.append(("DEBT1", START, 9000.0, 6000.0))
    costs = costs_frame(
        [
            ("S1", days_before(30), "freight", 100.0),
            ("S3", days_before(15), "service", 30.0),
            ("COST1", days_before(20), "samples", 150.0),
            ("COST1", days_before(10), "channel_fee", 50.0),
            ("COST2", days_before(5), "rebate", -40.0),
        ]
    )
    customers = customers_frame([*SELLERS, *DEBTORS, *COST_ONLY])
    customers.loc[customers["customer_id"] == "DEBT1", "credit_limit"] = 8000.0
    frames = {
        "sales_lines": sales_frame(sales),
        "cost_to_serve": costs,
        "customers": customers,
        "ar_invoices": invoices_frame(
            [
                (1, "DEBT1", days_before(150), days_before(120), 8000.0),
                (2, "DEBT2", days_before(200), days_before(170), 6000.0),
            ]
        ),
        "ar_payments": payments_frame([(1, "DEBT2", 2, days_before(100), 500.0)]),
    }
    warehouse = run_frames(tmp_path_factory.mktemp("rows"), frames, START, AS_OF, rules={})
    return frames, read_marts(warehouse)


def on_as_of(frame: pd.DataFrame, as_of: date = AS_OF) -> pd.DataFrame:
    """The rows of one as-of date, by customer."""
    return frame[frame["as_of_date"] == pd.Timestamp(as_of)].set_index("customer_id")


def test_every_customer_that_matters_has_a_row(rows_build) -> None:
    _, marts = rows_build
    expected = {*SELLERS, *DEBTORS, *COST_ONLY}
    assert set(on_as_of(marts["customer_tier_history"]).index) == expected
    assert set(marts["customer_tiers"]["customer_id"]) == expected
    assert set(marts["customer_service_plan"]["customer_id"]) == expected


def test_sellers_abc_tiers_are_unchanged_by_debtors_and_cost_only_customers(rows_build) -> None:
    """The sellers' tiers and shares equal a plain pandas computation over the sellers'
    rows alone, and the whole day equals the oracle over every row."""
    frames, marts = rows_build
    day = on_as_of(marts["customer_tier_history"])
    sellers_only = {
        table: frames[table][frames[table]["customer_id"].isin(list(SELLERS))]
        for table in ("sales_lines", "cost_to_serve")
    }
    alone = oracle_tiers(
        sellers_only["sales_lines"],
        AS_OF,
        sellers_only["cost_to_serve"],
        basis="customer_profit",
    )
    assert alone == SELLER_TIERS
    assert day.loc[list(SELLERS), "abc_tier"].to_dict() == SELLER_TIERS
    everyone = oracle_tiers(
        frames["sales_lines"],
        AS_OF,
        frames["cost_to_serve"],
        frames["ar_invoices"],
        frames["ar_payments"],
        basis="customer_profit",
    )
    assert (
        day["abc_tier"].to_dict()
        == everyone
        == SELLER_TIERS | dict.fromkeys([*DEBTORS, *COST_ONLY], "D")
    )
    profit = pd.Series({c: revenue - cogs - cost for c, (revenue, cogs, cost) in SELLERS.items()})
    expected_share = profit / profit.sum()
    pd.testing.assert_series_equal(
        day.loc[list(SELLERS), "share"], expected_share, check_names=False, atol=1e-12
    )
    assert day.loc[list(SELLERS), "contribution_rank"].tolist() == [1, 2, 3, 4, 5]
    assert day.loc[list(SELLERS), "revenue_rank"].notna().all()
    assert (day.loc[[*DEBTORS, *COST_ONLY], "contribution_rank"] > len(SELLERS)).all()
    assert (marts["customer_tier_history"]["cut_method"] == "cumulative_share").all()


def test_debtor_without_sales_is_d_credit_drop_and_drop_candidate(rows_build) -> None:
    """DEBT1: 8000 open, 120 days past due (above credit_drop_min_amount 5000), nothing
    bought in the 365-day window."""
    _, marts = rows_build
    row = on_as_of(marts["customer_tier_history"]).loc["DEBT1"]
    assert (row["tier"], row["abc_tier"]) == ("D", "D")
    assert row["reason_codes"] == "non_positive_contribution;no_sales_in_window;credit_drop"
    assert row["is_drop_candidate"] and row["has_chronic_overdue"] and row["has_serious_overdue"]
    assert row["worst_days_past_due"] == 120
    assert float(row["open_balance"]) == float(row["chronic_overdue_balance"]) == 8000.0
    assert row["is_credit_limit_warning"] and row["credit_utilisation"] == pytest.approx(1.0)
    # figures that need sales: 0 for money and counts, null for ranks and rates
    assert float(row["revenue"]) == float(row["contribution"]) == 0.0
    assert row["line_count"] == row["order_count"] == row["active_months"] == 0
    assert row["share"] == 0 and pd.isna(row["cumulative_share"])
    assert pd.isna(row["revenue_rank"]) and pd.isna(row["customer_profit_rate"])
    assert pd.isna(row["rebate_rate"]) and pd.isna(row["vip_level"])
    assert row["last_order_date"] == pd.Timestamp(START) and row["days_since_last_order"] == 400
    alerts = marts["customer_alerts"]
    raised = set(
        alerts[(alerts["customer_id"] == "DEBT1") & (alerts["as_of_date"] == pd.Timestamp(AS_OF))][
            "alert_type"
        ]
    )
    assert {"drop_candidate", "credit_overdue", "credit_limit"} <= raised
    assert on_as_of(marts["customer_tiers"]).loc["DEBT1", "tier"] == "D"
    plan = marts["customer_service_plan"].set_index("customer_id").loc["DEBT1"]
    assert plan["tier"] == "D" and float(plan["yearly_sample_budget"]) == 0


def test_debtor_that_never_bought_stays_while_it_owes(rows_build) -> None:
    """DEBT2 has no sales line at all: a row on every day its balance is open."""
    _, marts = rows_build
    history = marts["customer_tier_history"]
    rows = history[history["customer_id"] == "DEBT2"].sort_values("as_of_date")
    assert rows["as_of_date"].iloc[0] == days_before(200)
    assert len(rows) == 201 and rows["as_of_date"].iloc[-1] == pd.Timestamp(AS_OF)
    assert (rows["tier"] == "D").all()
    last = rows.iloc[-1]
    assert last["reason_codes"] == "non_positive_contribution;no_sales_in_window;credit_drop"
    assert float(last["open_balance"]) == 5500.0 and last["worst_days_past_due"] == 170
    assert pd.isna(last["first_order_date"]) and pd.isna(last["last_order_date"])
    alerts = marts["customer_alerts"]
    assert "drop_candidate" in set(alerts[alerts["customer_id"] == "DEBT2"]["alert_type"])


def test_cost_only_customers_are_d(rows_build) -> None:
    _, marts = rows_build
    day = on_as_of(marts["customer_tier_history"])
    cost1 = day.loc["COST1"]
    assert (cost1["tier"], cost1["abc_tier"]) == ("D", "D")
    assert cost1["reason_codes"] == "non_positive_contribution;no_sales_in_window"
    assert float(cost1["contribution"]) == float(cost1["customer_profit"]) == -200.0
    assert float(cost1["cost_to_serve"]) == 200.0 and float(cost1["samples_cost"]) == 150.0
    assert not cost1["is_drop_candidate"] and cost1["share"] == 0
    # a rebate reversal leaves COST2 a positive customer profit, still no share without sales
    cost2 = day.loc["COST2"]
    assert float(cost2["contribution"]) == 40.0
    assert (cost2["tier"], cost2["reason_codes"], cost2["share"]) == ("D", "no_sales_in_window", 0)
    plan = marts["customer_service_plan"].set_index("customer_id").loc["COST1"]
    assert plan["tier"] == "D" and float(plan["samples_cost_in_window"]) == 150.0


# --- build 2: the customer-count cut on 312 contributing customers -----------------------

COUNT_AS_OF = date(2024, 3, 31)
CONTRIBUTING = [f"K{number:03d}" for number in range(1, 313)]
# Not contributing, and not to be counted by the cut: had these four counted, 316 x 0.20 =
# 63.2 would make 64 customers A.
NOT_CONTRIBUTING = ["N_DEBT", "N_COST", "N_ZERO", "N_REVERSAL"]


@pytest.fixture(scope="module")
def count_build(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Build 2 (abc_cut_method customer_count): the frames handed in and the history."""
    sale_day = COUNT_AS_OF - timedelta(days=2)
    # distinct amounts, so the ranking has no ties: K001 100.00 ... K312 411.00
    sales = [
        (customer, sale_day, 100.0 + index, 0.0) for index, customer in enumerate(CONTRIBUTING)
    ]
    sales += [("N_ZERO", sale_day, 500.0, 0.0), ("N_ZERO", sale_day, -500.0, 0.0)]
    frames = {
        "sales_lines": sales_frame(sales),
        "customers": customers_frame([*CONTRIBUTING, *NOT_CONTRIBUTING]),
        "cost_to_serve": costs_frame(
            [
                ("N_COST", days_before(1, COUNT_AS_OF), "samples", 80.0),
                ("N_REVERSAL", days_before(1, COUNT_AS_OF), "rebate", -60.0),
            ]
        ),
        "ar_invoices": invoices_frame(
            [(1, "N_DEBT", days_before(3, COUNT_AS_OF), days_before(-27, COUNT_AS_OF), 700.0)]
        ),
    }
    warehouse = run_frames(
        tmp_path_factory.mktemp("count_cut"),
        frames,
        COUNT_AS_OF - timedelta(days=6),
        COUNT_AS_OF,
        rules={"abc_cut_method": "customer_count"},
    )
    history = read_marts(warehouse)["customer_tier_history"]
    return frames, history


def test_count_cut_makes_63_of_312_a(count_build) -> None:
    """The customer whose place in the ranking starts inside the top 20% is A: places
    0..62 start below 312 x 0.20 = 62.4, place 63 does not."""
    frames, history = count_build
    places = range(len(CONTRIBUTING))
    expected_a = sum(1 for place in places if place < len(CONTRIBUTING) * Fraction(20, 100))
    expected_b = (
        sum(1 for place in places if place < len(CONTRIBUTING) * Fraction(50, 100)) - expected_a
    )
    assert (expected_a, expected_b) == (63, 93)

    day = on_as_of(history, COUNT_AS_OF)
    assert set(day.index) == {*CONTRIBUTING, *NOT_CONTRIBUTING}
    amounts = frames["sales_lines"].groupby("customer_id")["net_amount"].sum()
    ranked = sorted(CONTRIBUTING, key=lambda customer: (-amounts[customer], customer))
    expected = {
        customer: "A" if place < expected_a else "B" if place < expected_a + expected_b else "C"
        for place, customer in enumerate(ranked)
    }
    assert day.loc[CONTRIBUTING, "abc_tier"].to_dict() == expected
    assert (day["abc_tier"] == "A").sum() == 63
    assert (day.loc[NOT_CONTRIBUTING, "abc_tier"] == "D").all()
    oracle = oracle_tiers(
        frames["sales_lines"],
        COUNT_AS_OF,
        frames["cost_to_serve"],
        frames["ar_invoices"],
        basis="customer_profit",
        cut_method="customer_count",
    )
    assert oracle == expected | dict.fromkeys(NOT_CONTRIBUTING, "D")
    assert (history["cut_method"] == "customer_count").all()
    assert (day["abc_tier"] == day["count_cut_tier"]).all()
