"""Exact values of the tier rules on one hand-made warehouse (issue 15), built for real:
one range build, then three daily builds on the same warehouse.

Every expected value is computed here, independently of the SQL: by `window_figures` and
`monthly_activity` (plain pandas/Decimal over the frames handed to the source) or worked by
hand in the comments. The default rules apply (customer_profit basis, 80/95 share cut,
365-day window), with hysteresis_evaluations = 2 so that a held demotion can be followed
across daily builds.

The range build START..AS_OF (2024-06-30):
  seven customers order on the same day every month from 2023-03 to 2024-06, with the same
  cost-to-serve entries every month (all six kinds between them); on AS_OF their 365-day
  window (2023-07-02..2024-06-30) holds twelve of each. Customer profit in the window:
    BIG1   39600  12 x (10000 - 6000 - rebate 500 - freight 200); rebate rate 500/10000 =
                  exactly the 5% ceiling: not above it
    BIG2   16500  grows: month k (0 = 2023-03) sells 2000 + 100k at half cost, promotion 100
    BIG3   15840  12 x (3000 - 1500 - rebate 180); rebate rate 6%: high_rebate_rate
    CR     12000  12 x (21000 - 19800 - rebate 200): revenue rank 1, profit rate 1000/21000 =
                  4.76% < 5%, positive: the chicken rib, ABC A capped at B
    CAP    10800  12 x (2500 - 1500 - service 100); owes 2000 due AS_OF-75 (see below)
    BIG4    9600  12 x (2000 - 1000 - channel fee 150 - samples 50)
    SMALL1  6000  12 x (1000 - 500), on the 20th
  and a few irregular buyers (IRREGULAR below): MID2 4500, MID1 4200, SMALL2 1200, ONE 750
  (one order and a partial return), LATE 300 (first order AS_OF-5), EDGE90 100, W1, W2 and
  OLD 50 each. Total 121540: 80% = 97232, 95% = 115463. Cumulative before BIG4 is 94740:
  A; SMALL1 starts at 104340: B; MID1 at 114840: B; SMALL2 at 119040: C.

  CAP's invoice (2000, due AS_OF-75) is more than 60 days past due from AS_OF-14: the
  credit cap alone (no debt 90+ days past due, so no credit_drop) makes it B, until it pays
  1200 on AS_OF-3 and 800 (below credit_cap_min_amount 1000) stays open: A again.

Then on the same warehouse, with hysteresis_evaluations = 2:
  day 1 (AS_OF+1): BIG1 buys 50000 at cost 30000 (+20000): total 141540, 80% = 113232,
    BIG4 now starts at 114740 (ABC B) and MID1 at 134840 >= 95% = 134463 (ABC C). Both
    demotions are held: the best ABC tier of AS_OF (published) and AS_OF+1 is the old one.
  day 2 (AS_OF+2): the second evaluation below, read back from the published day 1: BIG4
    becomes B and MID1 C, two demotions in tier_transitions.
  day 3 (AS_OF+3): the ERP corrects day 1 (already loaded, inside lookback_days): the
    purchase was 5000 at cost 3000 (+2000). History is recomputed from AS_OF+1: on it the
    total is 123540, BIG4 starts at 96740 < 98832 (A), MID1 at 116840 < 117363 (B), and day
    2's demotions are gone. (From AS_OF+2 EDGE90's first order has left the window: 50 less.)
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from customer_tiering import pipeline
from customer_tiering.config import Settings
from customer_tiering.contract import COST_KINDS
from tests.conftest import FrameSource, customers_frame, oracle_tiers, sales_frame
from tests.test_tier_rows import costs_frame, invoices_frame, payments_frame

AS_OF = date(2024, 6, 30)
START = date(2023, 3, 1)
DAY1, DAY2, DAY3 = (AS_OF + timedelta(days=offset) for offset in (1, 2, 3))
RULES = {"hysteresis_evaluations": 2}
WINDOW_DAYS, MOM_DAYS, YOY_DAYS, YEAR_LAG = 365, 30, 90, 364
REBATE_RATE_CEILING = Decimal("0.05")

MONTHS = pd.date_range("2023-03-01", "2024-06-01", freq="MS")  # 16 months, k = 0..15


@dataclass(frozen=True)
class MonthlyBuyer:
    """One order on `day` of every month and the same cost entries on the 15th."""

    net: float
    cogs: float
    costs: tuple[tuple[str, float], ...]
    day: int = 10
    growth: float = 0.0  # added to net each month (cogs stays `cogs / net` of it)


MONTHLY = {
    "BIG1": MonthlyBuyer(10000.0, 6000.0, (("rebate", 500.0), ("freight", 200.0))),
    "BIG2": MonthlyBuyer(2000.0, 1000.0, (("promotion", 100.0),), growth=100.0),
    "BIG3": MonthlyBuyer(3000.0, 1500.0, (("rebate", 180.0),)),
    "CR": MonthlyBuyer(21000.0, 19800.0, (("rebate", 200.0),)),
    "CAP": MonthlyBuyer(2500.0, 1500.0, (("service", 100.0),)),
    "BIG4": MonthlyBuyer(2000.0, 1000.0, (("channel_fee", 150.0), ("samples", 50.0))),
    "SMALL1": MonthlyBuyer(1000.0, 500.0, (), day=20),
}

# customer -> [(order date, net, cogs)]; a negative net is a return (not an order).
IRREGULAR: dict[str, list[tuple[date, float, float]]] = {
    # order-day intervals 10, 20, 60, 60, 90, 60: median 60; months Aug, Oct, Dec, Mar, May
    "MID1": [
        (date(2023, 8, 1), 1000.0, 400.0),
        (date(2023, 8, 11), 1000.0, 400.0),
        (date(2023, 8, 31), 1000.0, 400.0),
        (date(2023, 10, 30), 1000.0, 400.0),
        (date(2023, 12, 29), 1000.0, 400.0),
        (date(2024, 3, 28), 1000.0, 400.0),
        (date(2024, 5, 27), 1000.0, 400.0),
    ],
    # new in January, orders again 136 days later: a repeat buyer, not within 90 days
    "MID2": [
        (date(2024, 1, 5), 3000.0, 1500.0),
        (date(2024, 5, 20), 3000.0, 1500.0),
        (date(2024, 6, 20), 3000.0, 1500.0),
    ],
    # one order and a partial return: one order day, no repeat
    "ONE": [(date(2023, 11, 20), 2000.0, 1000.0), (date(2023, 12, 5), -500.0, -250.0)],
    "SMALL2": [
        (date(2024, 2, 14), 800.0, 400.0),
        (date(2024, 2, 28), 800.0, 400.0),
        (date(2024, 4, 1), 800.0, 400.0),
    ],
    # two walk-ins make February's transacting customers 10 against a baseline of 8
    "W1": [(date(2024, 2, 10), 100.0, 50.0)],
    "W2": [(date(2024, 2, 12), 100.0, 50.0)],
    "LATE": [(AS_OF - timedelta(days=5), 600.0, 300.0)],
    # repeats exactly 90 days after its first order: still "within 90 days"
    "EDGE90": [(date(2023, 7, 3), 100.0, 50.0), (date(2023, 10, 1), 100.0, 50.0)],
    # June 2023 stays an active month after its 06-05 order left the window (2024-06-04), by
    # its 06-25 order (gone 2024-06-24). On AS_OF only 2024-03-15 is in the window: one
    # active month, median interval 264 days (from 2023-06-25, before the window).
    "OLD": [
        (date(2023, 6, 5), 100.0, 50.0),
        (date(2023, 6, 25), 100.0, 50.0),
        (date(2024, 3, 15), 100.0, 50.0),
    ],
}

CAP_DUE = AS_OF - timedelta(days=75)
CAP_PAID = AS_OF - timedelta(days=3)
BIG_PURCHASE = ("BIG1", DAY1, 50000.0, 30000.0)
CORRECTED_PURCHASE = ("BIG1", DAY1, 5000.0, 3000.0)


def sales_rows() -> list[tuple[str, date, float, float]]:
    rows = []
    for customer, buyer in MONTHLY.items():
        for k, month in enumerate(MONTHS):
            net = buyer.net + buyer.growth * k
            rows.append(
                (customer, month.date().replace(day=buyer.day), net, net * buyer.cogs / buyer.net)
            )
    for customer, lines in IRREGULAR.items():
        rows += [(customer, day, net, cogs) for day, net, cogs in lines]
    return rows


def cost_rows() -> list[tuple[str, pd.Timestamp, str, float]]:
    return [
        (customer, month.replace(day=15), kind, amount)
        for customer, buyer in MONTHLY.items()
        for month in MONTHS
        for kind, amount in buyer.costs
    ]


def frames_with(extra_sales: list[tuple[str, date, float, float]]) -> dict[str, pd.DataFrame]:
    """The fixture's frames, with `extra_sales` appended (last, so a corrected line keeps
    its line id)."""
    customers = sorted({*MONTHLY, *IRREGULAR})
    return {
        "sales_lines": sales_frame(sales_rows() + extra_sales),
        "cost_to_serve": costs_frame(cost_rows()),
        "customers": customers_frame(customers),
        "ar_invoices": invoices_frame(
            [(1, "CAP", pd.Timestamp(CAP_DUE - timedelta(days=30)), pd.Timestamp(CAP_DUE), 2000.0)]
        ),
        "ar_payments": payments_frame([(1, "CAP", 1, pd.Timestamp(CAP_PAID), 1200.0)]),
    }


# --- the independent computation ---------------------------------------------------------


def money(values: pd.Series) -> pd.Series:
    """Floats of the frames as the cents the warehouse stores."""
    return values.map(lambda v: Decimal(str(v)).quantize(Decimal("0.01")))


def growth(current: Decimal, previous: Decimal) -> float | None:
    return None if previous == 0 else float((current - previous) / abs(previous))


def window_figures(frames: dict[str, pd.DataFrame], as_of: date) -> pd.DataFrame:
    """Per customer with a sales line in the 365-day window ending `as_of`: money (Decimal),
    counts, loyalty and growth as DOMAIN.md §2 and §4 define them, from the frames alone.

    Order days are the days with a purchase line (a return is no order). The median
    interval is over the order days inside the window, each counted from the order day
    before it (which may lie before the window)."""
    day = pd.Timestamp(as_of)
    lines = frames["sales_lines"].assign(
        order_date=pd.to_datetime(frames["sales_lines"]["order_date"]),
        net=lambda f: money(f["net_amount"]),
        cogs=lambda f: money(f["cost_amount"]),
    )
    costs = frames["cost_to_serve"].assign(
        entry_date=pd.to_datetime(frames["cost_to_serve"]["entry_date"]),
        amount=lambda f: money(f["amount"]),
    )
    lines, costs = lines[lines["order_date"] <= day], costs[costs["entry_date"] <= day]

    def days_back(dates: pd.Series, days: int, lag: int = 0) -> pd.Series:
        """Dates in the `days` days ending `lag` days before the as-of date."""
        end = day - pd.Timedelta(days=lag)
        return (dates > end - pd.Timedelta(days=days)) & (dates <= end)

    def basis(customer: str, days: int, lag: int = 0) -> Decimal:
        """Customer profit (the default basis) over `days` days ending `lag` days back."""
        own = lines[(lines["customer_id"] == customer) & days_back(lines["order_date"], days, lag)]
        served = costs[
            (costs["customer_id"] == customer) & days_back(costs["entry_date"], days, lag)
        ]
        return sum(own["net"] - own["cogs"], Decimal(0)) - sum(served["amount"], Decimal(0))

    def is_in_window(moment: pd.Timestamp) -> bool:
        return day - pd.Timedelta(days=WINDOW_DAYS) < moment <= day

    in_window = lines[days_back(lines["order_date"], WINDOW_DAYS)]
    costs_in_window = costs[days_back(costs["entry_date"], WINDOW_DAYS)]
    rows = {}
    for customer, own in in_window.groupby("customer_id"):
        revenue, cogs = sum(own["net"], Decimal(0)), sum(own["cogs"], Decimal(0))
        served = costs_in_window[costs_in_window["customer_id"] == customer]
        by_kind = {
            kind: sum(served.loc[served["kind"] == kind, "amount"], Decimal(0))
            for kind in COST_KINDS
        }
        cost_to_serve = sum(by_kind.values(), Decimal(0))
        customer_profit = revenue - cogs - cost_to_serve
        purchases = lines[(lines["customer_id"] == customer) & (lines["quantity"] > 0)]
        order_days = sorted(set(purchases["order_date"]))
        intervals = [
            (later - earlier).days
            for earlier, later in itertools.pairwise(order_days)
            if is_in_window(later)
        ]
        order_days_in_window = [d for d in order_days if is_in_window(d)]
        rebate_rate = by_kind["rebate"] / revenue
        rows[customer] = {
            "revenue": revenue,
            "cogs": cogs,
            "gross_profit": revenue - cogs,
            **{f"{kind}_cost": amount for kind, amount in by_kind.items()},
            "cost_to_serve": cost_to_serve,
            "customer_profit": customer_profit,
            "customer_profit_rate": float(customer_profit / revenue),
            "rebate_rate": float(rebate_rate),
            "is_rebate_rate_high": rebate_rate > REBATE_RATE_CEILING,
            "order_count": own.loc[own["quantity"] > 0, "order_id"].nunique(),
            "line_count": len(own),
            "active_months": len({(d.year, d.month) for d in order_days_in_window}),
            "last_order_date": order_days[-1],
            "days_since_last_order": (day - order_days[-1]).days,
            "median_order_interval_days": statistics.median(intervals) if intervals else None,
            "mom_growth": growth(basis(customer, MOM_DAYS), basis(customer, MOM_DAYS, MOM_DAYS)),
            "yoy_growth": growth(basis(customer, YOY_DAYS), basis(customer, YOY_DAYS, YEAR_LAG)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def monthly_activity(frames: dict[str, pd.DataFrame], as_of: date) -> pd.DataFrame:
    """customer_activity_monthly as DOMAIN.md §5 defines it: per month with orders,
    transacting customers and average order value (returns are no orders), each against the
    average of the previous three complete months (months with orders: every month of the
    fixtures has some); a complete month deviating by more than 20% is flagged."""
    lines = frames["sales_lines"].assign(
        order_date=pd.to_datetime(frames["sales_lines"]["order_date"])
    )
    lines = lines[(lines["quantity"] > 0) & (lines["order_date"] <= pd.Timestamp(as_of))]
    orders = (
        lines.assign(net=money(lines["net_amount"]))
        .groupby(["customer_id", "order_id"])
        .agg(order_date=("order_date", "min"), value=("net", "sum"))
    )
    orders["month_start_date"] = orders["order_date"].dt.to_period("M").dt.to_timestamp()
    months = (
        orders.reset_index()
        .groupby("month_start_date")
        .agg(
            transacting_customers=("customer_id", "nunique"),
            order_count=("order_id", "count"),
            order_value=("value", "sum"),
        )
    )
    months["avg_order_value"] = [
        float(value / count)
        for value, count in zip(months["order_value"], months["order_count"], strict=True)
    ]
    next_month = months.index + pd.offsets.MonthBegin(1)
    months["is_complete_month"] = pd.Timestamp(as_of + timedelta(days=1)) >= next_month
    for metric in ("transacting_customers", "avg_order_value"):
        complete = months[metric].astype(float).where(months["is_complete_month"])
        baseline = complete.shift(1).rolling(3, min_periods=1).mean()
        deviation = (months[metric].astype(float) - baseline) / baseline
        months[f"baseline_{metric}"] = baseline
        months[f"{metric}_deviation"] = deviation
        months[f"is_{metric}_deviating"] = [
            None if not is_complete or pd.isna(value) else abs(value) > 0.20
            for is_complete, value in zip(months["is_complete_month"], deviation, strict=True)
        ]
    return months


# --- the builds ----------------------------------------------------------------------------

MARTS = (
    "customer_tier_history",
    "tier_transitions",
    "customer_activity_monthly",
    "new_customers_monthly",
)


@dataclass(frozen=True)
class Build:
    """One pipeline run on the fixture warehouse: what it reported and the marts after it."""

    result: pipeline.RunResult
    marts: dict[str, pd.DataFrame]

    def history(self, as_of: date) -> pd.DataFrame:
        history = self.marts["customer_tier_history"]
        return history[history["as_of_date"] == pd.Timestamp(as_of)].set_index("customer_id")

    def transitions(self, since: date) -> set[tuple]:
        transitions = self.marts["tier_transitions"]
        since_rows = transitions[transitions["as_of_date"] >= pd.Timestamp(since)]
        return {
            (
                row.customer_id,
                row.as_of_date.date(),
                row.from_tier,
                row.to_tier,
                row.transition_type,
            )
            for row in since_rows.itertuples()
        }


def read_marts(warehouse: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {table: con.execute(f"select * from marts.{table}").df() for table in MARTS}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Build]:
    """The range build and the three daily builds of the module docstring, in turn on one
    warehouse; the marts are read after each."""
    tmp = tmp_path_factory.mktemp("rules_exact")
    settings = Settings(warehouse=tmp / "tiers.duckdb", quarantine=tmp / "quarantine", rules=RULES)
    steps = {
        "range": (START, AS_OF, []),
        "day1": (DAY1, DAY1, [BIG_PURCHASE]),
        "day2": (DAY2, DAY2, [BIG_PURCHASE]),
        "day3": (DAY3, DAY3, [CORRECTED_PURCHASE]),
    }
    done = {}
    for name, (start, end, extra_sales) in steps.items():
        result = pipeline.run(settings, start, end, source=FrameSource(frames_with(extra_sales)))
        done[name] = Build(result, read_marts(settings.warehouse))
    return done


# --- the range build: figures per customer --------------------------------------------------

# Dates the per-customer figures are compared on: AS_OF; the day the credit cap starts;
# 2024-06-08, when the year-ago period of growth ends on the monthly buyers' 2023-06-10
# order; 2024-06-09, when that order has just left the 365-day window, 2024-06-10's has not
# come (11 orders, 11 active months) and the month-over-month periods start the day after
# 05-10's order; 2024-06-10, with an order on the as-of date itself; and a day before MID2's
# third order.
FIGURE_DATES = [
    AS_OF,
    AS_OF - timedelta(days=14),
    date(2024, 6, 8),
    date(2024, 6, 9),
    date(2024, 6, 10),
    date(2024, 6, 19),
]
MONEY = [
    "revenue",
    "cogs",
    "gross_profit",
    *(f"{kind}_cost" for kind in COST_KINDS),
    "cost_to_serve",
    "customer_profit",
]


def as_decimal(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def plain(values: pd.Series) -> dict:
    """A column as a dict, nulls (NaN, NA, NaT) as None, so that null equals null."""
    return {key: None if pd.isna(value) else value for key, value in values.items()}


def assert_baseline_figures_equal(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """customer_activity_monthly's averages, baselines, deviations and flags equal
    `monthly_activity`'s, month by month (both indexed alike)."""
    for column in (
        "avg_order_value",
        "baseline_transacting_customers",
        "baseline_avg_order_value",
        "transacting_customers_deviation",
        "avg_order_value_deviation",
    ):
        assert actual[column].tolist() == pytest.approx(
            expected[column].tolist(), abs=1e-9, nan_ok=True
        ), column
    for column in ("is_transacting_customers_deviating", "is_avg_order_value_deviating"):
        assert list(plain(actual[column]).values()) == expected[column].tolist(), column


@pytest.mark.parametrize("as_of", FIGURE_DATES)
def test_profit_and_cost_to_serve_by_kind_equal_the_frames(builds, as_of: date) -> None:
    expected = window_figures(frames_with([]), as_of)
    actual = builds["range"].history(as_of).loc[expected.index]
    for column in MONEY:
        assert actual[column].map(as_decimal).to_dict() == expected[column].to_dict(), column


def test_profit_figures_as_worked_by_hand(builds) -> None:
    """The module docstring's customer profits, and the rates the rules read."""
    day = builds["range"].history(AS_OF)
    profit = {"BIG1": 39600, "BIG2": 16500, "BIG3": 15840, "CR": 12000, "CAP": 10800, "BIG4": 9600}
    assert day.loc[list(profit), "customer_profit"].map(as_decimal).to_dict() == {
        customer: Decimal(value) for customer, value in profit.items()
    }
    big1 = day.loc["BIG1"]
    assert (as_decimal(big1["rebate_cost"]), as_decimal(big1["freight_cost"])) == (6000, 2400)
    assert as_decimal(day.loc["BIG4", "channel_fee_cost"]) == 1800
    assert as_decimal(day.loc["BIG4", "samples_cost"]) == 600
    assert as_decimal(day.loc["CAP", "service_cost"]) == 1200
    assert as_decimal(day.loc["BIG2", "promotion_cost"]) == 1200
    assert as_decimal(day.loc["CR", "gross_profit"]) == 14400
    assert day.loc["CR", "customer_profit_rate"] == pytest.approx(12000 / 252000, abs=1e-12)
    # BIG1's rebates are exactly the 5% ceiling (not above it), BIG3's 6%
    assert day.loc["BIG1", "rebate_rate"] == pytest.approx(0.05, abs=1e-12)
    assert day.loc["BIG3", "rebate_rate"] == pytest.approx(0.06, abs=1e-12)
    assert set(day.index[day["is_rebate_rate_high"]]) == {"BIG3"}
    # On 2024-06-09 the window holds BIG1's twelve monthly rebates (2023-06-15 on) but only
    # eleven orders (2023-07-10 on): 6000 / 110000 = 5.45%, above the ceiling.
    june_9 = builds["range"].history(date(2024, 6, 9))
    assert june_9.loc["BIG1", "rebate_rate"] == pytest.approx(6000 / 110000, abs=1e-12)
    assert june_9.loc["BIG1", "is_rebate_rate_high"]


@pytest.mark.parametrize("as_of", FIGURE_DATES)
def test_profit_rate_rebate_rate_and_ceiling_flag(builds, as_of: date) -> None:
    expected = window_figures(frames_with([]), as_of)
    actual = builds["range"].history(as_of).loc[expected.index]
    for column in ("customer_profit_rate", "rebate_rate"):
        assert actual[column].tolist() == pytest.approx(expected[column].tolist(), abs=1e-12)
    assert actual["is_rebate_rate_high"].to_dict() == expected["is_rebate_rate_high"].to_dict()


@pytest.mark.parametrize("as_of", FIGURE_DATES)
def test_loyalty_figures_equal_the_frames(builds, as_of: date) -> None:
    expected = window_figures(frames_with([]), as_of)
    actual = builds["range"].history(as_of).loc[expected.index]
    for column in ("order_count", "line_count", "active_months", "days_since_last_order"):
        assert actual[column].to_dict() == expected[column].to_dict(), column
    assert actual["last_order_date"].to_dict() == expected["last_order_date"].to_dict()
    column = "median_order_interval_days"
    assert plain(actual[column]) == plain(expected[column])


def test_loyalty_figures_as_worked_by_hand(builds) -> None:
    on_as_of, on_june_9 = builds["range"].history(AS_OF), builds["range"].history(date(2024, 6, 9))
    mid1 = on_as_of.loc["MID1"]  # intervals 10, 20, 60, 60, 90, 60; last order 2024-05-27
    assert (mid1["order_count"], mid1["active_months"], mid1["median_order_interval_days"]) == (
        7,
        5,
        60,
    )
    assert mid1["days_since_last_order"] == 34
    assert on_as_of.loc["MID2", "median_order_interval_days"] == 83.5  # 136 and 31 days
    one = on_as_of.loc["ONE"]  # an order and a return: two lines, one order
    assert (one["order_count"], one["line_count"], one["active_months"]) == (1, 2, 1)
    assert one["days_since_last_order"] == 223  # from 2023-11-20, not the return's day
    assert pd.isna(one["median_order_interval_days"])
    assert (on_as_of.loc["BIG1", "order_count"], on_as_of.loc["BIG1", "active_months"]) == (12, 12)
    big1_june_9 = on_june_9.loc["BIG1"]
    assert (big1_june_9["order_count"], big1_june_9["active_months"]) == (11, 11)
    # OLD: June 2023 still counts on 2024-06-09 by its 06-25 order (06-05 has left)
    old_june_9, old = on_june_9.loc["OLD"], on_as_of.loc["OLD"]
    assert (old_june_9["active_months"], old_june_9["median_order_interval_days"]) == (2, 142)
    assert (old["active_months"], old["median_order_interval_days"]) == (1, 264)


@pytest.mark.parametrize("as_of", FIGURE_DATES)
def test_growth_equals_the_frames(builds, as_of: date) -> None:
    expected = window_figures(frames_with([]), as_of)
    actual = builds["range"].history(as_of).loc[expected.index]
    for column in ("mom_growth", "yoy_growth"):
        values, want = plain(actual[column]), plain(expected[column])
        assert values.keys() == want.keys()
        for customer, value in want.items():
            assert values[customer] == (
                value if value is None else pytest.approx(value, abs=1e-12)
            ), (
                column,
                customer,
            )


def test_growth_as_worked_by_hand(builds) -> None:
    """BIG2 month k makes 2000 + 100k at half cost, less 100 promotion: customer profit
    1650 in June 2024 against 1600 in May (mom 50/1600); 4800 in the 90 days to AS_OF
    against 3000 in the 90 days to 2023-07-02 (yoy 0.6). MID1 bought nothing in June but
    600 in May (mom -1); new in August 2023, it has no year-ago period (null)."""
    day = builds["range"].history(AS_OF)
    assert day.loc["BIG2", "mom_growth"] == pytest.approx(0.03125, abs=1e-12)
    assert day.loc["BIG2", "yoy_growth"] == pytest.approx(0.6, abs=1e-12)
    assert day.loc["BIG1", "mom_growth"] == 0 and day.loc["BIG1", "yoy_growth"] == 0
    assert day.loc["MID1", "mom_growth"] == -1 and pd.isna(day.loc["MID1", "yoy_growth"])


# --- the range build: tiers, caps, VIP levels, transitions ----------------------------------

# customer -> (abc_tier, tier, reason_codes, vip_level) on AS_OF. The final A customers hold
# 39600 + 16500 + 15840 + 10800 + 9600 = 92340 (CR is capped, so not in A): BIG2 starts at
# 39600 / 92340 = 42.9% (diamond, below 50%), BIG3 at 60.8% and CAP at 77.9% (gold, below
# 80%), BIG4 at 89.6% (silver). Counted on ABC A instead (CR in, 104340), CAP would start at
# 80.4%: silver.
TIERS_ON_AS_OF = {
    "BIG1": ("A", "A", None, "diamond"),
    "BIG2": ("A", "A", None, "diamond"),
    "BIG3": ("A", "A", "high_rebate_rate", "gold"),
    "CR": ("A", "B", "chicken_rib", None),
    "CAP": ("A", "A", None, "gold"),
    "BIG4": ("A", "A", None, "silver"),
    "SMALL1": ("B", "B", None, None),
    "MID2": ("B", "B", None, None),
    "MID1": ("B", "B", None, None),
    "SMALL2": ("C", "C", None, None),
    "ONE": ("C", "C", None, None),  # a one-off buyer, but C is below the cap (B): no code
    "LATE": ("C", "C", None, None),
    "W1": ("C", "C", None, None),
    "W2": ("C", "C", None, None),
    "EDGE90": ("C", "C", None, None),
    "OLD": ("C", "C", None, None),
}
# On AS_OF-4 CAP is capped: A holds 81540, BIG2 starts at 48.6% (diamond), BIG3 at 68.8%
# (gold), BIG4 at 88.2% (silver).
TIERS_ON_AS_OF_MINUS_4 = TIERS_ON_AS_OF | {
    "CAP": ("A", "B", "credit_overdue_cap", None),
}


def tier_rows(day: pd.DataFrame) -> dict[str, tuple]:
    return {
        customer: (
            row["abc_tier"],
            row["tier"],
            None if pd.isna(row["reason_codes"]) else row["reason_codes"],
            None if pd.isna(row["vip_level"]) else row["vip_level"],
        )
        for customer, row in day.iterrows()
    }


@pytest.mark.parametrize(
    "as_of,expected",
    [(AS_OF, TIERS_ON_AS_OF), (AS_OF - timedelta(days=4), TIERS_ON_AS_OF_MINUS_4)],
    ids=["as_of", "as_of-4"],
)
def test_tiers_codes_and_vip_levels_as_worked_by_hand(builds, as_of: date, expected) -> None:
    day = builds["range"].history(as_of)
    assert tier_rows(day) == expected
    frames = frames_with([])
    abc = oracle_tiers(
        frames["sales_lines"], as_of, frames["cost_to_serve"], basis="customer_profit"
    )
    assert abc == {customer: row[0] for customer, row in expected.items()}


def test_credit_cap_alone_caps_at_b_while_60_plus_days_overdue(builds) -> None:
    """CAP owes 2000 due AS_OF-75: 60 days past due on AS_OF-15 (not serious), 61 on
    AS_OF-14. Capped at B from then; from AS_OF-3 it owes 800, below the 1000 minimum.
    Never 90 days past due: no credit_drop, no drop candidate."""
    history = builds["range"].marts["customer_tier_history"]
    cap = history[history["customer_id"] == "CAP"].set_index("as_of_date").sort_index()
    cap = cap.loc[pd.Timestamp(AS_OF - timedelta(days=16)) :]
    expected = {}
    for offset in range(16, -1, -1):
        day = AS_OF - timedelta(days=offset)
        capped = 4 <= offset <= 14
        open_amount = 800 if offset <= 3 else 2000
        expected[pd.Timestamp(day)] = (
            "B" if capped else "A",
            "credit_overdue_cap" if capped else None,
            (day - CAP_DUE).days,
            Decimal(open_amount),
            Decimal(open_amount if offset <= 14 else 0),
        )
    actual = {
        day: (
            row["tier"],
            None if pd.isna(row["reason_codes"]) else row["reason_codes"],
            row["worst_days_past_due"],
            as_decimal(row["overdue_balance"]),
            as_decimal(row["serious_overdue_balance"]),
        )
        for day, row in cap.iterrows()
    }
    assert actual == expected
    assert (cap["abc_tier"] == "A").all()
    assert not cap["has_chronic_overdue"].any() and not cap["is_drop_candidate"].any()
    assert (cap["days_over_90_balance"] == 0).all() and (cap["chronic_overdue_balance"] == 0).all()
    assert cap["has_serious_overdue"].tolist() == [e[1] is not None for e in expected.values()]


def test_chicken_rib_with_positive_profit_is_capped_at_b(builds) -> None:
    """CR, first by revenue (252000) among 15 or 16 customers with sales (top 20%: ranks 1
    to 3),
    makes 12000 customer profit: positive, but 4.76% of its sales, below 5%. ABC A, B on
    every day of June 2024."""
    history = builds["range"].marts["customer_tier_history"]
    june = history[
        (history["customer_id"] == "CR") & (history["as_of_date"] >= pd.Timestamp("2024-06-01"))
    ]
    assert len(june) == 30
    assert (june["abc_tier"] == "A").all() and (june["tier"] == "B").all()
    assert (june["reason_codes"] == "chicken_rib").all() and june["is_chicken_rib"].all()
    assert (june["revenue_rank"] == 1).all()
    assert (june["customer_profit"] > 0).all() and (june["customer_profit_rate"] < 0.05).all()
    # BIG1, second by revenue, is not: a 33% profit rate
    big1 = history[
        (history["customer_id"] == "BIG1") & (history["as_of_date"] == pd.Timestamp(AS_OF))
    ]
    assert big1["revenue_rank"].tolist() == [2] and not big1["is_chicken_rib"].any()


def test_transitions_of_june_as_worked_by_hand(builds) -> None:
    """In June 2024 ABC moves only for MID2 (C to B on its third order, 2024-06-20: its 4500
    now starts at 110340, below 95% of the day's total); the credit cap moves CAP down and
    back up."""
    assert builds["range"].transitions(date(2024, 6, 1)) == {
        ("CAP", AS_OF - timedelta(days=14), "A", "B", "demotion"),
        ("MID2", date(2024, 6, 20), "C", "B", "promotion"),
        ("CAP", AS_OF - timedelta(days=3), "B", "A", "promotion"),
    }
    transitions = builds["range"].marts["tier_transitions"].set_index(["customer_id", "as_of_date"])
    demotion = transitions.loc[("CAP", pd.Timestamp(AS_OF - timedelta(days=14)))]
    assert (demotion["from_abc_tier"], demotion["to_abc_tier"]) == ("A", "A")
    assert demotion["reason_codes"] == "credit_overdue_cap"
    promotion = transitions.loc[("MID2", pd.Timestamp("2024-06-20"))]
    assert (promotion["from_abc_tier"], promotion["to_abc_tier"]) == ("C", "B")


# --- the range build: the monthly marts ------------------------------------------------------


def test_monthly_activity_baseline_and_deviation_flags(builds) -> None:
    expected = monthly_activity(frames_with([]), AS_OF)
    actual = builds["range"].marts["customer_activity_monthly"].set_index("month_start_date")
    assert (actual["as_of_date"] == pd.Timestamp(AS_OF)).all()
    assert list(actual.sort_index().index) == list(expected.index)
    actual = actual.loc[expected.index]
    for column in ("transacting_customers", "order_count", "is_complete_month"):
        assert actual[column].tolist() == expected[column].tolist(), column
    assert actual["order_value"].map(as_decimal).tolist() == expected["order_value"].tolist()
    assert_baseline_figures_equal(actual, expected)
    # February 2024: the seven monthly buyers, SMALL2, W1 and W2 against 8, 8 and 8
    february = actual.loc[pd.Timestamp("2024-02-01")]
    assert (february["transacting_customers"], february["baseline_transacting_customers"]) == (
        10,
        8,
    )
    assert february["transacting_customers_deviation"] == pytest.approx(0.25)
    assert (
        february["is_transacting_customers_deviating"] and february["is_avg_order_value_deviating"]
    )
    assert actual["is_transacting_customers_deviating"].fillna(False).sum() == 1


# month -> (new customers, repeat buyers, repeat within 90 days), worked by hand from
# IRREGULAR and MONTHLY: 2023-03 is the first data month (the seven monthly buyers);
# OLD repeats after 20 days, EDGE90 after exactly 90, MID1 after 10, ONE's second line is a
# return, MID2 repeats after 136 days, SMALL2 after 14, W1, W2 and LATE never.
NEW_CUSTOMERS = {
    "2023-03-01": (7, 7, 7),
    "2023-06-01": (1, 1, 1),
    "2023-07-01": (1, 1, 1),
    "2023-08-01": (1, 1, 1),
    "2023-11-01": (1, 0, 0),
    "2024-01-01": (1, 1, 0),
    "2024-02-01": (3, 1, 1),
    "2024-06-01": (1, 0, 0),
}


def test_new_customers_and_repeat_buyers_per_month(builds) -> None:
    months = (
        builds["range"].marts["new_customers_monthly"].set_index("month_start_date").sort_index()
    )
    assert list(months.index) == list(MONTHS)  # every month with an order has a row
    actual = {
        month.date().isoformat(): (
            row["new_customers"],
            row["repeat_customers"],
            row["repeat_within_days_customers"],
        )
        for month, row in months.iterrows()
        if row["new_customers"] > 0
    }
    assert actual == NEW_CUSTOMERS
    assert months["is_first_data_month"].tolist() == [True] + [False] * 15
    assert not months["is_partial_month"].any()  # AS_OF is June's last day
    assert months.loc[pd.Timestamp("2024-02-01"), "repeat_rate"] == pytest.approx(1 / 3)


# --- successive daily builds: hysteresis and a late correction -------------------------------


def held(build: Build, as_of: date, customers: list[str]) -> dict[str, tuple]:
    """(abc_tier, held_abc_tier, tier, reason_codes) of `customers` on `as_of`."""
    day = build.history(as_of).loc[customers]
    return {
        customer: (
            row["abc_tier"],
            row["held_abc_tier"],
            row["tier"],
            None if pd.isna(row["reason_codes"]) else row["reason_codes"],
        )
        for customer, row in day.iterrows()
    }


def test_hysteresis_holds_a_demotion_for_one_daily_build(builds) -> None:
    """Day 1's build computes only DAY1; the best ABC tier of AS_OF (read from the
    published history) and DAY1 keeps BIG4 A and MID1 B."""
    day1 = builds["day1"]
    assert (day1.result.history_start, day1.result.as_of) == (DAY1, DAY1)
    frames = frames_with([BIG_PURCHASE])
    abc = oracle_tiers(
        frames["sales_lines"], DAY1, frames["cost_to_serve"], basis="customer_profit"
    )
    assert (abc["BIG4"], abc["MID1"]) == ("B", "C")
    assert held(day1, DAY1, ["BIG4", "MID1", "BIG1"]) == {
        "BIG4": ("B", "A", "A", "hysteresis_hold"),
        "MID1": ("C", "B", "B", "hysteresis_hold"),
        "BIG1": ("A", "A", "A", None),
    }
    assert as_decimal(day1.history(DAY1).loc["BIG1", "revenue"]) == 170000
    assert day1.transitions(DAY1) == set()


def test_hysteresis_demotes_on_the_second_daily_build(builds) -> None:
    """Day 2's build computes only DAY2 and reads DAY1's ABC tiers (B and C, not the held
    A and B) from the published history: both demotions take effect, and tier_transitions
    reads DAY1's published tiers as their from_tier."""
    day2 = builds["day2"]
    assert (day2.result.history_start, day2.result.as_of) == (DAY2, DAY2)
    assert held(day2, DAY2, ["BIG4", "MID1"]) == {
        "BIG4": ("B", "B", "B", None),
        "MID1": ("C", "C", "C", None),
    }
    assert day2.transitions(DAY1) == {
        ("BIG4", DAY2, "A", "B", "demotion"),
        ("MID1", DAY2, "B", "C", "demotion"),
    }


def test_late_correction_recomputes_history_from_the_corrected_day(builds) -> None:
    """Day 3 delivers DAY1 again, corrected (5000 instead of 50000). History is recomputed
    from DAY1: the figures equal the corrected frames, BIG4 and MID1 never left their tiers
    and day 2's demotions are gone; nothing before DAY1 changed."""
    day2, day3 = builds["day2"], builds["day3"]
    assert (day3.result.history_start, day3.result.as_of) == (DAY1, DAY3)
    assert day3.result.changed_days["sales_lines"] == [DAY1, DAY3]  # DAY3: loaded, no sales
    corrected = frames_with([CORRECTED_PURCHASE])
    for as_of in (DAY1, DAY2, DAY3):
        expected = window_figures(corrected, as_of)
        actual = day3.history(as_of)
        assert set(actual.index) == set(expected.index)
        for column in MONEY:
            assert (
                actual.loc[expected.index, column].map(as_decimal).to_dict()
                == expected[column].to_dict()
            )
        abc = oracle_tiers(
            corrected["sales_lines"], as_of, corrected["cost_to_serve"], basis="customer_profit"
        )
        assert actual["abc_tier"].to_dict() == abc
        assert held(day3, as_of, ["BIG4", "MID1"]) == {
            "BIG4": ("A", "A", "A", None),
            "MID1": ("B", "B", "B", None),
        }
    assert as_decimal(day3.history(DAY2).loc["BIG1", "revenue"]) == 125000
    assert day3.transitions(DAY1) == set()

    def up_to_as_of(build: Build, table: str) -> pd.DataFrame:
        frame = build.marts[table]
        kept = frame[frame["as_of_date"] <= pd.Timestamp(AS_OF)]
        return kept.sort_values(["as_of_date", "customer_id"]).reset_index(drop=True)

    for table in ("customer_tier_history", "tier_transitions"):
        pd.testing.assert_frame_equal(up_to_as_of(day3, table), up_to_as_of(day2, table))
