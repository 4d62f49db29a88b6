"""The demo ERP: deterministic, faithful to the input contract, and telling the planted stories.

The pipeline's own tests trust this generator to contain the traps DOMAIN.md describes
(a one-off group buy, a chicken-rib customer, bad payers, churners, ...), so those are
asserted here on the generated data itself.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from customer_tiering.contract import BUSINESS_DATE, COST_KINDS, TABLES
from customer_tiering.sources.demo import DEMO_EPOCH, DemoSource

FACTS = [name for name, spec in TABLES.items() if not spec.is_master]
START, END = date(2024, 1, 1), date(2026, 12, 31)
STEADY_BIG = [f"C0000{i}" for i in range(1, 6)]
GROUP_BUYER, CHICKEN_RIB = "C00006", "C00007"
BAD_PAYERS, CHURNERS = ["C00008", "C00009"], ["C00010", "C00011"]
GROWERS, CHASERS, BLOCKED = ["C00012", "C00013"], ["C00014", "C00015"], "C00016"


@pytest.fixture(scope="module")
def src() -> DemoSource:
    return DemoSource()


@pytest.fixture(scope="module")
def data(src: DemoSource) -> dict[str, pd.DataFrame]:
    """Three years of every fact table, plus the final customer snapshot."""
    frames = {table: src.pull_range(table, START, END) for table in FACTS}
    frames["customers"] = src.pull("customers", END)
    return frames


@pytest.fixture(scope="module")
def late_day(src: DemoSource) -> date:
    days = src.late_days(date(2024, 1, 1), date(2024, 12, 31))
    assert 2 <= len(days) <= 20, days  # ~2% of days
    return days[0]


def year(frame: pd.DataFrame, column: str, y: int) -> pd.DataFrame:
    return frame[frame[column].dt.year == y]


# --- determinism ----------------------------------------------------------------------
def test_same_seed_gives_identical_csv_bytes() -> None:
    a, b = DemoSource(seed=42), DemoSource(seed=42)
    days = [date(2024, 3, 4), date(2024, 12, 20), date(2025, 2, 3)]
    for table in TABLES:
        for day in days:
            assert a.pull(table, day).to_csv(index=False) == b.pull(table, day).to_csv(index=False)


def test_other_seed_differs() -> None:
    a, b = DemoSource(seed=42), DemoSource(seed=43)
    day = date(2024, 3, 4)
    for table in ("customers", "sales_lines", "ar_invoices"):
        assert a.pull(table, day).to_csv(index=False) != b.pull(table, day).to_csv(index=False)


# --- pull_range is the concatenation of daily pulls -----------------------------------
@pytest.mark.parametrize("table", FACTS)
def test_pull_range_equals_daily_pulls(src: DemoSource, table: str, late_day: date) -> None:
    fresh = DemoSource()  # asks day by day, in reverse: nothing may depend on what came first
    windows = [
        (date(2024, 12, 27), date(2025, 1, 6), None),  # across a month and a year
        (late_day - timedelta(days=2), late_day + timedelta(days=2), None),  # lacks late rows
        (late_day - timedelta(days=1), late_day + timedelta(days=1), late_day + timedelta(3)),
        (date(2023, 12, 30), date(2024, 1, 2), None),  # starts before the epoch
    ]
    for start, end, known_at in windows:
        got = src.pull_range(table, start, end, known_at)
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        daily = {day: fresh.pull(table, day, known_at or end) for day in reversed(days)}
        want = pd.concat([daily[day] for day in days], ignore_index=True)
        assert_frame_equal(got, want)
        assert len(got) > 0 or start < DEMO_EPOCH


def test_master_pull_range_returns_changed_snapshots(src: DemoSource) -> None:
    start, end = date(2025, 5, 20), date(2025, 6, 20)
    got = src.pull_range("customers", start, end)
    snaps = sorted(got[BUSINESS_DATE].dt.date.unique())
    assert snaps[0] == start and date(2025, 6, 1) in snaps
    previous = None
    for day in [start + timedelta(days=i) for i in range((end - start).days + 1)]:
        snapshot = src.pull("customers", day)
        if day in snaps:
            part = got[got[BUSINESS_DATE].dt.date == day].drop(columns=BUSINESS_DATE)
            assert_frame_equal(part.reset_index(drop=True), snapshot)
            assert previous is None or not snapshot.equals(previous)
        else:
            assert snapshot.equals(previous)
        previous = snapshot
    products = src.pull_range("products", start, end)
    assert products[BUSINESS_DATE].unique().tolist() == [pd.Timestamp(start)]
    assert len(products) == len(src.pull("products", start))


# --- the input contract ---------------------------------------------------------------
DTYPES = {
    "DATE": "datetime64[s]",
    "VARCHAR": "str",
    "BOOLEAN": "bool",
    "DECIMAL(18,2)": "float64",
    "DECIMAL(18,3)": "float64",
}


@pytest.mark.parametrize("table", list(TABLES))
def test_columns_and_dtypes_follow_the_contract(src: DemoSource, table: str) -> None:
    spec = TABLES[table]
    for day in (date(2024, 6, 3), date(2023, 12, 31)):  # a busy day and one before the epoch
        frame = src.pull(table, day)
        assert list(frame.columns) == list(spec.columns)
        assert {c: str(t) for c, t in frame.dtypes.items()} == {
            c: DTYPES[t] for c, t in spec.columns.items()
        }
        assert frame[spec.key].is_unique
        assert frame[spec.key].is_monotonic_increasing
        if spec.is_master or day >= DEMO_EPOCH:
            assert len(frame) > 0
        else:
            assert frame.empty


def test_keys_unique_and_rows_dated_on_their_day(src: DemoSource, data: dict) -> None:
    for table in FACTS:
        spec = TABLES[table]
        assert data[table][spec.key].is_unique, table
        for day in (date(2024, 2, 29), date(2025, 7, 1), date(2026, 3, 31)):
            frame = src.pull(table, day)
            assert (frame[spec.date_column] == pd.Timestamp(day)).all(), (table, day)


def test_amounts_are_exact(src: DemoSource, data: dict) -> None:
    lines = data["sales_lines"]
    net = (lines.quantity * lines.unit_price - lines.discount_amount).round(2)
    assert (lines.net_amount == net).all()
    unit_cost = lines.product_id.map(src.pull("products", END).set_index("product_id").unit_cost)
    assert (lines.cost_amount == (lines.quantity * unit_cost).round(2)).all()
    for table, columns in {
        "sales_lines": ["unit_price", "discount_amount", "net_amount", "cost_amount"],
        "cost_to_serve": ["amount"],
        "ar_invoices": ["amount"],
        "ar_payments": ["amount"],
    }.items():
        for column in columns:
            values = data[table][column]
            assert (values.round(2) == values).all(), (table, column)
    assert (lines.quantity.round(3) == lines.quantity).all()
    assert (lines.quantity % 1 != 0).any()  # some goods are sold by weight
    assert (lines.quantity != 0).all() and (lines.unit_price > 0).all()
    assert (lines.discount_amount >= 0).all() and (lines.discount_amount > 0).mean() < 0.2
    positive = lines.quantity > 0
    assert ((lines.net_amount > 0) == positive).all()


def test_references_exist_on_the_day(src: DemoSource, data: dict) -> None:
    created = data["customers"].set_index("customer_id").created_date
    for table in FACTS:
        frame = data[table]
        dated = frame[TABLES[table].date_column]
        assert frame.customer_id.isin(created.index).all()
        assert (dated >= frame.customer_id.map(created)).all(), table
    for day in (date(2024, 1, 2), date(2025, 6, 2), date(2026, 12, 28)):
        customers = set(src.pull("customers", day).customer_id)
        products = set(src.pull("products", day).product_id)
        for table in FACTS:
            assert set(src.pull(table, day).customer_id) <= customers, (table, day)
        assert set(src.pull("sales_lines", day).product_id) <= products
    payments, invoices = data["ar_payments"], data["ar_invoices"].set_index("invoice_id")
    assert payments.invoice_id.isin(invoices.index).all()
    assert (payments.customer_id.to_numpy() == invoices.customer_id[payments.invoice_id]).all()


def test_receivables_are_consistent(data: dict) -> None:
    invoices = data["ar_invoices"].set_index("invoice_id")
    payments = data["ar_payments"]
    assert ((invoices.due_date - invoices.invoice_date).dt.days.isin([30, 60])).all()
    assert (invoices.amount > 0).all() and (payments.amount > 0).all()
    paid = payments.groupby("invoice_id").amount.sum()
    assert (paid.round(2) <= invoices.amount[paid.index] + 1e-9).all()
    first = payments.groupby("invoice_id").payment_date.min()
    assert (first >= invoices.invoice_date[first.index]).all()
    assert (payments.groupby("invoice_id").size() == 2).mean() > 0.02  # some partial payments
    # An invoice is one sales order's net total; returns are not invoiced.
    lines = data["sales_lines"]
    orders = lines[lines.quantity > 0].groupby("order_id").net_amount.sum().round(2)
    assert set(orders.index) == set(invoices.index)
    assert np.allclose(orders.to_numpy(), invoices.amount[orders.index].to_numpy())


def test_cost_to_serve(data: dict) -> None:
    costs = data["cost_to_serve"]
    assert set(costs.kind) == set(COST_KINDS)
    assert (costs.amount > 0).all()
    rebates = costs[costs.kind == "rebate"]
    assert (rebates.entry_date + pd.offsets.MonthEnd(0) == rebates.entry_date).all()
    fees = costs[costs.kind == "channel_fee"]
    assert set(fees.entry_date.dt.month) == {3, 6, 9, 12}


def test_returns_reference_earlier_purchases(data: dict) -> None:
    lines = data["sales_lines"]
    returns, sales = lines[lines.quantity < 0], lines[lines.quantity > 0]
    assert 0.01 < len(returns) / len(lines) < 0.03
    assert (returns.net_amount < 0).all() and (returns.cost_amount < 0).all()
    first = sales.groupby(["customer_id", "product_id"]).order_date.min().rename("first")
    joined = returns.join(first, on=["customer_id", "product_id"])
    assert (joined["first"] < joined.order_date).all()


def test_uniform_price_except_chicken_rib(src: DemoSource, data: dict) -> None:
    prices = src.prices(START, END)
    promo = prices[prices.promo]
    per_month = promo.groupby([promo.product_id, promo.date.dt.to_period("M")]).size()
    assert (per_month == 3).all()
    depth = 1 - promo.unit_price / promo.list_price
    assert depth.between(0.195, 0.305).all()
    lines = data["sales_lines"]
    sold = lines[(lines.quantity > 0) & (lines.customer_id != CHICKEN_RIB)]
    day_price = sold.merge(
        prices, left_on=["product_id", "order_date"], right_on=["product_id", "date"]
    )
    assert len(day_price) == len(sold)
    assert (day_price.unit_price_x == day_price.unit_price_y).all()


# --- the planted archetypes -----------------------------------------------------------
def test_archetypes_have_fixed_ids(src: DemoSource) -> None:
    arch = src.archetypes().set_index("customer_id").archetype
    assert list(src.archetypes().columns) == ["customer_id", "archetype"]
    assert len(arch) == 400
    assert (arch[STEADY_BIG] == "steady_big").all()
    assert arch[GROUP_BUYER] == "group_buyer" and arch[CHICKEN_RIB] == "chicken_rib"
    assert (arch[BAD_PAYERS] == "bad_payer").all() and (arch[CHURNERS] == "churner").all()
    assert (arch[GROWERS] == "grower").all() and (arch[CHASERS] == "price_chaser").all()
    assert arch[BLOCKED] == "blocked"
    assert set(arch.iloc[16:]) == {"small_steady", "new"}


def test_group_buyer_buys_once_and_big(data: dict) -> None:
    lines = data["sales_lines"]
    group = lines[lines.customer_id == GROUP_BUYER]
    assert group.order_id.nunique() == 1
    assert group.order_date.unique().tolist() == [pd.Timestamp("2024-12-20")]
    big = year(lines, "order_date", 2024)
    big = big[big.customer_id.isin(STEADY_BIG)].groupby("customer_id")
    assert group.net_amount.sum() > big.net_amount.sum().max()
    assert group.quantity.sum() > big.quantity.sum().max()


def test_steady_big_buy_often_and_pay_on_time(data: dict) -> None:
    lines = year(data["sales_lines"], "order_date", 2025)
    orders = lines[lines.customer_id.isin(STEADY_BIG)].groupby("customer_id").order_id.nunique()
    assert (orders >= 3 * 52).all()  # several times a week
    invoices = data["ar_invoices"].set_index("invoice_id")
    payments = data["ar_payments"]
    mine = payments[payments.customer_id.isin(STEADY_BIG)]
    assert (mine.payment_date.to_numpy() <= invoices.due_date[mine.invoice_id].to_numpy()).all()


def customer_profit(data: dict, customers: list[str], y: int) -> pd.Series:
    lines = year(data["sales_lines"], "order_date", y)
    lines = lines[lines.customer_id.isin(customers)]
    costs = year(data["cost_to_serve"], "entry_date", y)
    cts = costs[costs.customer_id.isin(customers)].groupby("customer_id").amount.sum()
    gross = (lines.net_amount - lines.cost_amount).groupby(lines.customer_id).sum()
    return gross - cts


def test_chicken_rib_is_squeezed_and_unprofitable(data: dict) -> None:
    lines = data["sales_lines"]
    sold = lines[lines.quantity > 0]
    mine = sold[sold.customer_id == CHICKEN_RIB]
    others = sold[sold.customer_id != CHICKEN_RIB].groupby(["product_id", "order_date"])
    both = mine.join(others.unit_price.min().rename("others"), on=["product_id", "order_date"])
    both = both.dropna(subset=["others"])
    assert len(both) > 500
    assert (both.unit_price < both.others).all()
    assert (both.unit_price / both.others).between(0.85, 0.91).all()
    volume = year(sold, "order_date", 2025).groupby("customer_id").net_amount.sum()
    assert volume[CHICKEN_RIB] > 0.7 * volume[STEADY_BIG].min()
    assert customer_profit(data, [CHICKEN_RIB], 2025).iloc[0] < 0
    assert (customer_profit(data, STEADY_BIG, 2025) > 0).all()


def test_bad_payers_pay_late_then_not_at_all(data: dict) -> None:
    invoices = data["ar_invoices"]
    paid = data["ar_payments"].groupby("invoice_id").payment_date.max()
    bad = invoices[invoices.customer_id.isin(BAD_PAYERS)].join(paid, on="invoice_id")
    days_late = (bad.payment_date - bad.due_date).dt.days
    in_2024 = bad.invoice_date.dt.year == 2024
    assert bad.payment_date[in_2024].notna().all()
    assert days_late[in_2024].between(60, 240).all()
    unpaid_2025h2 = bad.payment_date[bad.invoice_date.between("2025-07-01", "2025-12-31")].isna()
    assert unpaid_2025h2.mean() > 0.3


def test_churners_fall_silent(data: dict) -> None:
    lines = data["sales_lines"]
    mine = lines[lines.customer_id.isin(CHURNERS)]
    assert (mine.order_date < pd.Timestamp("2025-06-01")).all()
    monthly = mine.groupby(mine.order_date.dt.to_period("M")).net_amount.sum()
    assert monthly[pd.Period("2025-05")] < 0.5 * monthly[pd.Period("2025-02")]


def test_growers_grow(data: dict) -> None:
    lines = data["sales_lines"]
    for customer in GROWERS:
        mine = lines[lines.customer_id == customer]
        h1_2024 = mine[mine.order_date < "2024-07-01"].net_amount.sum()
        h2_2025 = mine[mine.order_date.between("2025-07-01", "2025-12-31")].net_amount.sum()
        assert h2_2025 > 3 * h1_2024 > 0


def test_price_chasers_buy_on_promotion(src: DemoSource, data: dict) -> None:
    prices = src.prices(START, END)
    lines = data["sales_lines"]
    mine = lines[lines.customer_id.isin(CHASERS) & (lines.quantity > 0)]
    flagged = mine.merge(
        prices, left_on=["product_id", "order_date"], right_on=["product_id", "date"]
    )
    for _, part in flagged.groupby("customer_id"):
        assert part.quantity[part.promo].sum() / part.quantity.sum() > 0.8
    everyone = lines[lines.quantity > 0].merge(
        prices, left_on=["product_id", "order_date"], right_on=["product_id", "date"]
    )
    assert everyone.promo.mean() < 0.3


def test_blocked_flag_switches_on(src: DemoSource, data: dict) -> None:
    before = src.pull("customers", date(2025, 5, 31)).set_index("customer_id").blocked
    after = src.pull("customers", date(2025, 6, 1)).set_index("customer_id").blocked
    assert not before[BLOCKED] and after[BLOCKED]
    assert before.sum() == 0 and after.sum() == 1
    lines = data["sales_lines"]
    assert (lines[lines.customer_id == BLOCKED].order_date >= "2025-06-01").any()


def test_late_corrections_arrive_three_days_later(src: DemoSource, late_day: date) -> None:
    for table in ("sales_lines", "ar_invoices"):
        key = TABLES[table].key
        on_day = src.pull(table, late_day)
        two_later = src.pull(table, late_day, late_day + timedelta(days=2))
        corrected = src.pull(table, late_day, late_day + timedelta(days=3))
        assert_frame_equal(on_day, two_later)
        assert set(on_day[key]) < set(corrected[key])
        assert len(corrected) - len(on_day) <= 0.2 * len(corrected)
    lines = src.pull("sales_lines", late_day, late_day + timedelta(days=3))
    missing = lines[~lines.line_id.isin(src.pull("sales_lines", late_day).line_id)]
    orders = lines[lines.order_id.isin(missing.order_id)]
    assert orders.line_id.isin(missing.line_id).all()  # whole orders arrive late


def test_new_customers(data: dict, src: DemoSource) -> None:
    customers = data["customers"]
    arch = src.archetypes().set_index("customer_id").archetype
    new = customers[customers.created_date >= pd.Timestamp(DEMO_EPOCH)]
    assert 0.25 < len(new) / len(customers) < 0.35
    assert set(arch[new.customer_id]) <= {"new", "group_buyer"}
    assert (new.created_date.dt.year.value_counts() > 0.25 * len(new)).all()  # spread evenly
    orders = data["sales_lines"].groupby("customer_id").order_id.nunique()
    counts = orders.reindex(arch[arch == "new"].index).dropna()
    assert (counts == 1).sum() > 10 and (counts >= 5).sum() > 10  # one-off and repeat buyers


def test_revenue_is_pareto_like(data: dict) -> None:
    lines = year(data["sales_lines"], "order_date", 2025)
    revenue = lines.groupby("customer_id").net_amount.sum().sort_values(ascending=False)
    top = revenue.iloc[: round(0.2 * len(revenue))].sum() / revenue.sum()
    assert 0.55 < top < 0.90


def test_volume_follows_lines_per_day(data: dict) -> None:
    per_day = len(year(data["sales_lines"], "order_date", 2025)) / 365
    assert 240 < per_day < 360


def test_constructor_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        DemoSource(customers=5)
    with pytest.raises(ValueError):
        DemoSource().pull("orders", date(2024, 1, 2))
