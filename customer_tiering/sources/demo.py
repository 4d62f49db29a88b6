"""The embedded demo ERP: a deterministic, seeded generator of a distributor's data.

Why a generator and not a fixture file: the pipeline, its tests and its benchmark need
realistic data at any scale (a few hundred customers for a first try, 20,000 customers
and ~30 million sales lines for the benchmark) without shipping data. The world it
simulates follows DOMAIN.md: a long-tailed customer base, uniform supply prices with
promotions, returns, cost to serve, receivables with good and bad payers, late
corrections, and a few planted customers (archetypes) whose behaviour the tiering must
see through.

How it stays deterministic and fast:
- Everything is generated in calendar-month chunks, each seeded from (seed, year, month),
  so a day's rows never depend on which range was asked for.
- A fact that spans months (a return, a payment of an earlier invoice) is produced by
  the chunk that owns its cause and found later by filtering on its date.
- Within a chunk everything is vectorised numpy; customers, products and document ids
  are integer codes until the frame handed out is built. Document ids are handed out as
  text (the input contract's keys are strings): 14 digits, yyyymm then a sequence, so
  text order is number order and the tiers do not depend on which one a model sorts by.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import NormalDist

import numpy as np
import pandas as pd

from customer_tiering.config import DEMO_MIN_CUSTOMERS
from customer_tiering.contract import BUSINESS_DATE, COST_KINDS, FACT_TABLES, TABLES, TableSpec

DEMO_EPOCH = date(2024, 1, 1)  # the demo ERP's world starts here; no facts before it

_EPOCH64 = np.datetime64("2024-01-01", "D")  # a Monday: weekday of day offset d is d % 7
_MONTH0 = np.datetime64("2024-01", "M")
_Arrays = dict[str, np.ndarray]


def _day(value: date) -> int:
    """Days since the epoch (negative before it); accepts datetimes and Timestamps too."""
    if isinstance(value, datetime):
        value = value.date()
    return (value - DEMO_EPOCH).days


def _to_date(day: int) -> date:
    return DEMO_EPOCH + timedelta(days=int(day))


def _month_of(days: np.ndarray | int) -> np.ndarray:
    """Months since 2024-01 of day offsets (vectorised)."""
    months = (_EPOCH64 + np.asarray(days, dtype=np.int64)).astype("datetime64[M]")
    return (months - _MONTH0).astype(np.int64)


def _month_start(mi: int) -> int:
    """Day offset of the first day of month index `mi` (months since 2024-01)."""
    return int(((_MONTH0 + mi).astype("datetime64[D]") - _EPOCH64).astype(np.int64))


def _dates(days: np.ndarray) -> np.ndarray:
    """Day offsets as midnight `datetime64[s]`, the dtype every date column is handed out in."""
    return (_EPOCH64 + days.astype(np.int64)).astype("datetime64[s]")


def _skip_sunday(days: np.ndarray) -> np.ndarray:
    return days + (days % 7 == 6)


def _prev_weekday(days: np.ndarray) -> np.ndarray:
    dow = days % 7
    return days - np.where(dow == 5, 1, np.where(dow == 6, 2, 0))


def _next_weekday(days: np.ndarray) -> np.ndarray:
    """Saturday and Sunday move to Monday: banks book payments on weekdays."""
    dow = days % 7
    return days + np.where(dow == 5, 2, np.where(dow == 6, 1, 0))


# --- the calendar of the planted story -------------------------------------------------
_HORIZON_END = _day(date(2027, 1, 1))  # new customers are created before this day
_GROUP_BUY_DAY = _day(date(2024, 12, 20))
_GROUP_CREATED = _day(date(2024, 11, 25))
_CHURN_START = _day(date(2025, 4, 1))
_CHURN_STOP = _day(date(2025, 6, 1))  # churners are silent from this day
_BLOCK_DAY = _day(date(2025, 6, 1))  # C00016 is blocked in the master from this day
_BAD_DEBT_MONTH = 12  # 2025-01: bad payers start leaving invoices unpaid
_GROWER_MONTHS = 36  # growers stop growing after 2026-12 so the numbers stay finite

# --- archetypes ----------------------------------------------------------------------
ARCHETYPES = (
    "small_steady",
    "new",
    "steady_big",
    "group_buyer",
    "chicken_rib",
    "bad_payer",
    "churner",
    "grower",
    "price_chaser",
    "blocked",
)
_A = {name: code for code, name in enumerate(ARCHETYPES)}
# Fixed ids so tests and the lead can find them: C00001.. in this order.
_FIXED = (
    ["steady_big"] * 5
    + ["group_buyer", "chicken_rib"]
    + ["bad_payer"] * 2
    + ["churner"] * 2
    + ["grower"] * 2
    + ["price_chaser"] * 2
    + ["blocked"]
)
_N_FIXED = len(_FIXED)
_BLOCKED_IDX = _FIXED.index("blocked")

CHANNELS = ("retail", "sub_distributor", "supermarket", "restaurant", "group_buyer")
_CHANNEL_P = (0.52, 0.10, 0.10, 0.24, 0.04)
_CHANNEL_SIZE = np.array([1.0, 2.5, 1.8, 0.8, 1.0])  # sub-distributors buy more than shops
_FIXED_CHANNEL = {
    "steady_big": "sub_distributor",
    "group_buyer": "group_buyer",
    "chicken_rib": "supermarket",
    "bad_payer": "retail",
    "churner": "retail",
    "grower": "restaurant",
    "price_chaser": "retail",
    "blocked": "retail",
}
REGIONS = ("North", "South", "East", "West", "Central")
_REGION_P = (0.2, 0.25, 0.3, 0.1, 0.15)

CATEGORIES = (
    "beverages",
    "snacks",
    "dairy",
    "condiments",
    "household",
    "personal_care",
    "fresh_meat",
    "produce",
)
_BY_WEIGHT = ("fresh_meat", "produce")  # sold by the kg: fractional quantities
_N_PRODUCTS = 60

# Weekday weights (Mon..Sun), each row averaging 1 over a week. Shops rest on Sunday;
# restaurants and supermarkets restock a little on Sunday too.
_DOW = np.array([[1.15, 1.1, 1.05, 1.1, 1.25, 0.6, 0.0], [1.05, 1.0, 1.0, 1.05, 1.2, 1.0, 0.45]])
_DOW = _DOW * 7 / _DOW.sum(axis=1, keepdims=True)
_SEASON = np.array([0.95, 0.85, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95, 1.0, 1.05, 1.05, 1.2])

_R0 = 3000.0  # monthly revenue of the median small customer, in currency units
_SIGMA = 1.35  # spread of customer sizes (lognormal): the top 20% hold about 75-80%
_FMAX = 1.0  # orders per day a single customer saturates at
_RETURN_RATE = 0.02
_MAX_RETURN_LAG = 22  # days from a sale to its return (21 plus a Sunday shift)
_MAX_PAY_LAG = 300  # days from an invoice to its last payment (bound checked)
_LATE_DAY_RATE = 0.023  # of Mon-Sat days, so ~2% of calendar days
_LATE_SHARE = 0.03  # of a late day's orders
_LATE_DELAY = 3  # late rows are known from day + 3
_PROMO_PER_MONTH = 3
_ID_BASE = 10**8  # ids are yyyymm * 10^8 + sequence within the owning chunk

# Random streams spawned per month chunk (fixed positions keep old streams stable).
_S_PRICES, _S_LATE_DAYS, _S_ORDERS, _S_LINES, _S_RETURNS, _S_PAY, _S_COST, _S_LATE = range(8)
_KIND = {kind: code for code, kind in enumerate(COST_KINDS)}
_TERMS_RELIABLE, _PROMPT, _SLOW, _BAD = range(4)  # payment styles
# How many days after the month that caused it a fact row can be dated.
_LAG = {
    "sales_lines": _MAX_RETURN_LAG,
    "cost_to_serve": 0,
    "ar_invoices": 0,
    "ar_payments": _MAX_PAY_LAG,
}


def _str_array(values: object) -> pd.api.extensions.ExtensionArray:
    return pd.array(np.asarray(values, dtype=object), dtype="str")


def _id_text(ids: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Integer document ids as their decimal text (vectorised; fast at benchmark scale)."""
    return pd.Series(ids, copy=False).astype("str").array


class _LRU:
    """A small least-recently-used cache: chunks are cheap to rebuild but not free."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[object, _Arrays] = OrderedDict()

    def get(self, key: object) -> _Arrays | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: object, value: _Arrays) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


@dataclass(frozen=True)
class _Products:
    ids: pd.api.extensions.ExtensionArray
    names: pd.api.extensions.ExtensionArray
    category: np.ndarray  # code into CATEGORIES
    list_price: np.ndarray
    unit_cost: np.ndarray
    by_weight: np.ndarray
    popularity: np.ndarray


@dataclass(frozen=True)
class _Customers:
    """Static per-customer parameters; index i is customer C{i+1:05d}."""

    ids: pd.api.extensions.ExtensionArray
    names: pd.api.extensions.ExtensionArray
    arch: np.ndarray
    region: np.ndarray
    channel: np.ndarray
    created: np.ndarray  # day offset; a customer buys only after it
    credit_limit: np.ndarray
    size: np.ndarray  # expected monthly revenue in units of _R0
    freq: np.ndarray  # orders per calendar day at full activity
    p_lines: np.ndarray  # lines per order = 1 + Binomial(5, p)
    line_value: np.ndarray  # currency per line at full activity
    once: np.ndarray  # buys exactly once, on once_day
    once_day: np.ndarray
    stop: np.ndarray  # no returns dated on or after this day
    returns_ok: np.ndarray
    dow_profile: np.ndarray
    weights: np.ndarray  # (customers, products) float32 product preference
    promo_factor: np.ndarray  # preference multiplier for products on promotion
    promo_qty: np.ndarray  # quantity multiplier on promotion
    terms: np.ndarray
    pay_style: np.ndarray
    freight_rate: np.ndarray
    freight_min: np.ndarray
    rebate_rate: np.ndarray
    channel_fee: np.ndarray  # quarterly listing fee
    visit_rate: np.ndarray  # service visits per month
    visit_cost: np.ndarray
    promo_prob: np.ndarray  # chance of a promotion-support entry per month
    promo_share: np.ndarray
    idx: dict[str, np.ndarray]  # archetype name -> customer indices


def _build_products(seed: int) -> _Products:
    """~60 products in a handful of categories, list price 5-500, cost 60-85% of list."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0, 0, 1]))
    n = _N_PRODUCTS
    category = np.sort(rng.integers(0, len(CATEGORIES), n))
    raw = np.exp(rng.uniform(np.log(5.0), np.log(500.0), n))
    list_price = np.clip(np.round(np.round(raw * 2) / 2 - 0.01, 2), 5.0, 500.0)
    unit_cost = np.round(list_price * rng.uniform(0.60, 0.85, n), 2)
    by_weight = np.isin(np.asarray(CATEGORIES)[category], _BY_WEIGHT)
    # Cheap everyday goods sell more often than expensive ones.
    popularity = np.exp(rng.normal(0.0, 0.7, n)) * list_price**-0.3
    brands = np.array(["Sunrise", "Golden", "Jade", "Lotus", "Harbor", "Evergreen", "Silk"])
    sizes = np.array(["Small", "Classic", "Family", "Value", "Premium", "Bulk"])
    cat_names = pd.Series(_str_array(CATEGORIES)).take(category).reset_index(drop=True)
    names = (
        pd.Series(_str_array(brands[rng.integers(0, brands.size, n)]))
        + " "
        + cat_names.str.replace("_", " ").str.title()
        + " "
        + pd.Series(_str_array(sizes[rng.integers(0, sizes.size, n)]))
    )
    ids = "P" + pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(4)
    return _Products(
        ids=ids.array,
        names=names.array,
        category=category,
        list_price=list_price,
        unit_cost=unit_cost,
        by_weight=by_weight,
        popularity=popularity,
    )


class DemoSource:
    """The demo ERP: deterministic in (seed, customers, lines_per_day) and the arguments.

    Facts exist from DEMO_EPOCH on; pulling a day may generate earlier months (payments
    arrive up to ~10 months after their invoice) and caches them.

    Planted customers (see `archetypes()`): C00001-05 steady_big, C00006 group_buyer (one
    order on 2024-12-20), C00007 chicken_rib (price squeezed ~12%, heavy fees), C00008-09
    bad_payer, C00010-11 churner (silent from 2025-06-01), C00012-13 grower (+10%/month),
    C00014-15 price_chaser, C00016 blocked (from 2025-06-01); the rest small_steady or new.
    `prices()` gives the uniform supply price and promotion calendar, `late_days()` the
    days whose delivery is completed only by a pull known three days later. Returns are
    credited at the price paid, so only positive lines follow the day's uniform price."""

    name = "demo"

    def __init__(self, seed: int = 42, customers: int = 400, lines_per_day: int = 300) -> None:
        if customers < DEMO_MIN_CUSTOMERS:
            raise ValueError(f"the demo needs at least {DEMO_MIN_CUSTOMERS} customers")
        if lines_per_day < 1:
            raise ValueError("lines_per_day must be at least 1")
        if seed < 0:
            raise ValueError("seed must be zero or positive")
        self.seed = int(seed)
        self.customers = int(customers)
        self.lines_per_day = int(lines_per_day)
        self._p = _build_products(self.seed)
        self._c = self._build_customers()
        self._calibrate()
        # Chunk tables are cached per table: payments need a year of chunks, lines only two.
        lines_per_month = 31 * self.lines_per_day
        room = int(np.clip(6_000_000 // lines_per_month, 3, 48))
        self._chunks = {t: _LRU(max(room, 14) if t == "ar_payments" else room) for t in FACT_TABLES}
        self._views = _LRU(max(4, room))
        self._kinds = _str_array(COST_KINDS)
        self._regions = _str_array(REGIONS)
        self._channels = _str_array(CHANNELS)
        self._categories = _str_array(CATEGORIES)

    # ------------------------------------------------------------------ public interface
    def pull(self, table: str, day: date, known_at: date | None = None) -> pd.DataFrame:
        """One business day of `table` as the ERP would deliver it on `known_at` (default: day).
        Fact tables: the rows dated `day`. Master tables (customers, products): the full
        snapshot valid on `day`."""
        spec = self._spec(table)
        d = _day(day)
        if spec.is_master:
            return self._master(table, np.array([d]), with_business_date=False)
        known = _day(known_at) if known_at is not None else d
        return self._facts(table, d, d, known)

    def pull_range(
        self, table: str, start: date, end: date, known_at: date | None = None
    ) -> pd.DataFrame:
        """Fact tables: exactly the concatenation of pull(table, d, known_at or end) for d in
        start..end, in that order, computed without a per-day loop.
        Master tables: a `_business_date` column is added and only the snapshots of `start`
        and of each later day whose snapshot differs from the previous day's are returned."""
        spec = self._spec(table)
        s, e = _day(start), _day(end)
        if s > e:
            raise ValueError(f"start {start} is after end {end}")
        if spec.is_master:
            return self._master(table, self._snapshot_days(table, s, e), with_business_date=True)
        known = _day(known_at) if known_at is not None else e
        return self._facts(table, s, e, known)

    def archetypes(self) -> pd.DataFrame:
        """Ground truth for tests: which planted behaviour each customer follows.
        Not part of the delivered data (a real ERP knows no such thing)."""
        names = _str_array(ARCHETYPES)
        return pd.DataFrame(
            {"customer_id": self._c.ids, "archetype": names.take(self._c.arch.astype(np.int64))}
        )

    def prices(self, start: date, end: date) -> pd.DataFrame:
        """The uniform supply price of every product on every day start..end, with the
        promotion calendar: columns product_id, date, list_price, unit_price, promo.
        What everyone except the planted chicken-rib customer pays; for tests and reports."""
        s, e = max(_day(start), 0), _day(end)
        frames = []
        for mi in range(int(_month_of(s)), int(_month_of(e)) + 1) if s <= e else []:
            d0 = _month_start(mi)
            price, promo = self._month_prices(mi)
            n_p, nd = price.shape
            dd, pp = np.divmod(np.arange(nd * n_p), n_p)  # day-major, product within day
            keep = (d0 + dd >= s) & (d0 + dd <= e)
            dd, pp = dd[keep], pp[keep]
            frames.append(
                pd.DataFrame(
                    {
                        "product_id": self._p.ids.take(pp),
                        "date": _dates(d0 + dd),
                        "list_price": self._p.list_price[pp],
                        "unit_price": price[pp, dd],
                        "promo": promo[pp, dd],
                    }
                )
            )
        if not frames:
            return pd.DataFrame(
                {
                    "product_id": self._p.ids.take(np.array([], dtype=np.int64)),
                    "date": _dates(np.array([], dtype=np.int64)),
                    "list_price": np.array([], dtype=np.float64),
                    "unit_price": np.array([], dtype=np.float64),
                    "promo": np.array([], dtype=bool),
                }
            )
        return pd.concat(frames, ignore_index=True)

    def late_days(self, start: date, end: date) -> list[date]:
        """Days start..end whose delivery on the day lacks some orders (with their invoices
        and freight) that only arrive with a pull known on day + 3 or later."""
        s, e = max(_day(start), 0), _day(end)
        days: set[int] = set()
        for mi in range(int(_month_of(s)), int(_month_of(e)) + 1) if s <= e else []:
            lines = self._chunk("sales_lines", mi)
            late = lines["entered"] > lines["day"]
            days.update(int(d) for d in np.unique(lines["day"][late]))
        return [_to_date(d) for d in sorted(days) if s <= d <= e]

    # ------------------------------------------------------------------ static world
    def _build_customers(self) -> _Customers:
        """Sizes, channels, dates and habits of every customer, archetypes planted first."""
        n, p = self.customers, self._p
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0, 0, 2]))
        arch = np.full(n, _A["small_steady"], dtype=np.int8)
        arch[:_N_FIXED] = [_A[a] for a in _FIXED]
        n_new = round(0.3 * n)
        new = np.arange(n) >= n - n_new
        arch[new] = _A["new"]
        idx = {a: np.nonzero(arch == _A[a])[0] for a in ARCHETYPES}

        channel = rng.choice(len(CHANNELS), size=n, p=_CHANNEL_P)
        channel[:_N_FIXED] = [CHANNELS.index(_FIXED_CHANNEL[a]) for a in _FIXED]
        channel[idx["steady_big"][3:]] = CHANNELS.index("supermarket")
        region = rng.choice(len(REGIONS), size=n, p=_REGION_P)

        # Existing customers get ids in order of creation; new ones are created on Mondays
        # (the weekly master-data batch), evenly over 2024-2026, so the master changes weekly.
        created = np.empty(n, dtype=np.int64)
        n_old = n - _N_FIXED - n_new
        created[_N_FIXED : _N_FIXED + n_old] = np.sort(
            rng.integers(_day(date(2012, 1, 1)), 0, n_old)
        )
        created[:_N_FIXED] = rng.integers(_day(date(2015, 1, 1)), _day(date(2023, 1, 1)), _N_FIXED)
        created[idx["group_buyer"]] = _GROUP_CREATED
        new_days = np.floor(np.linspace(0, _HORIZON_END, n_new, endpoint=False)).astype(np.int64)
        created[new] = new_days - new_days % 7

        # Sizes: lognormal (long tail) for the many small ones; archetypes planted.
        z = rng.standard_normal(n)
        size = np.exp(_SIGMA * z) * _CHANNEL_SIZE[channel]
        once = new & (rng.random(n) < 0.35)
        size[new & ~once] = np.exp(np.log(0.6) + 1.2 * z[new & ~once])
        size[once] = np.exp(np.log(0.8) + 0.8 * z[once])
        big = 1.2 * np.exp(_SIGMA * NormalDist().inv_cdf(1 - 1 / n))  # above every small one
        size = np.minimum(size, 0.7 * big)  # the planted big ones stay the biggest regulars
        size[idx["steady_big"]] = big * rng.uniform(0.85, 1.15, idx["steady_big"].size)
        size[idx["chicken_rib"]] = 0.9 * big
        size[idx["bad_payer"]] = 6.0
        size[idx["churner"]] = 6.0
        size[idx["grower"]] = 0.5
        size[idx["price_chaser"]] = 3.0
        size[idx["blocked"]] = 5.0
        # The group buy is one order worth 2.5 years of a steady big customer's buying.
        size[idx["group_buyer"]] = 2.5 * 12 * big * 1.15
        once[idx["group_buyer"]] = True

        once_day = np.full(n, -1, dtype=np.int64)
        once_day[once] = _skip_sunday(created[once] + rng.integers(1, 15, n)[once])
        once_day[idx["group_buyer"]] = _GROUP_BUY_DAY
        stop = np.full(n, np.iinfo(np.int64).max // 2, dtype=np.int64)
        stop[idx["churner"]] = _CHURN_STOP
        stop[once] = once_day[once] + 1
        returns_ok = ~once

        p_lines = np.clip(0.2 + 0.12 * np.log(size), 0.05, 0.9)
        p_lines[idx["group_buyer"]] = 1.0  # six lines
        dow_profile = np.isin(
            channel, [CHANNELS.index("supermarket"), CHANNELS.index("restaurant")]
        )

        # Preference: popularity times a personal taste, so each customer has favourites.
        weights = p.popularity[None, :] * np.exp(rng.normal(0.0, 1.0, (n, p.ids.size)))
        weights = weights.astype(np.float32)
        promo_factor = np.full(n, 1.5, dtype=np.float32)
        promo_factor[idx["price_chaser"]] = 80.0
        promo_qty = np.full(n, 1.25)
        promo_qty[idx["price_chaser"]] = 1.6

        # Payment terms and habits.
        terms = np.where(rng.random(n) < 0.1, 60, 30)
        terms[channel == CHANNELS.index("sub_distributor")] = 60
        terms[idx["steady_big"]] = 60
        terms[idx["chicken_rib"]] = 60
        pay_style = rng.choice(3, size=n, p=(0.15, 0.6, 0.25))
        pay_style[idx["steady_big"]] = _TERMS_RELIABLE
        pay_style[idx["group_buyer"]] = _TERMS_RELIABLE
        pay_style[idx["bad_payer"]] = _BAD
        for a in ("chicken_rib", "churner", "grower", "price_chaser", "blocked"):
            pay_style[idx[a]] = _PROMPT
        credit_limit = np.maximum(5000.0, np.round(size * _R0 * terms / 30 * 1.5, -3))

        # Cost to serve: chicken rib is expensive on every count.
        freight_rate = np.where(rng.random(n) < 0.2, 0.0, 0.025)  # some pick up themselves
        freight_rate[idx["steady_big"]] = 0.02
        freight_rate[idx["chicken_rib"]] = 0.07
        freight_rate[idx["group_buyer"]] = 0.01
        freight_min = np.full(n, 6.0)
        rebate_rate = np.where(size > 5, 0.01, 0.0)
        rebate_rate[channel == CHANNELS.index("supermarket")] = 0.01
        rebate_rate[channel == CHANNELS.index("sub_distributor")] = 0.015
        rebate_rate[idx["steady_big"]] = 0.025
        rebate_rate[idx["chicken_rib"]] = 0.09
        rebate_rate[once] = 0.0
        fee_rate = np.where(channel == CHANNELS.index("supermarket"), 0.02, 0.0)
        fee_rate[idx["chicken_rib"]] = 0.06
        channel_fee = np.round(fee_rate * 3 * size * _R0, -1)
        visit_rate = np.clip(0.4 * np.sqrt(size), 0.1, 5.0)
        visit_rate[idx["chicken_rib"]] = 10.0
        visit_cost = np.ones(n)
        visit_cost[idx["chicken_rib"]] = 2.0
        promo_prob = np.clip(0.04 * np.sqrt(size), 0.01, 0.5)
        promo_prob[idx["chicken_rib"]] = 0.9
        promo_share = np.full(n, 0.05)
        promo_share[idx["chicken_rib"]] = 0.06

        names = _customer_names(rng, channel)
        ids = "C" + pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(5)
        return _Customers(
            ids=ids.array,
            names=names,
            arch=arch,
            region=region,
            channel=channel,
            created=created,
            credit_limit=credit_limit.astype(np.float64),
            size=size,
            freq=np.zeros(n),
            p_lines=p_lines,
            line_value=np.zeros(n),
            once=once,
            once_day=once_day,
            stop=stop,
            returns_ok=returns_ok,
            dow_profile=dow_profile.astype(np.int64),
            weights=weights,
            promo_factor=promo_factor,
            promo_qty=promo_qty,
            terms=terms.astype(np.int64),
            pay_style=pay_style.astype(np.int64),
            freight_rate=freight_rate,
            freight_min=freight_min,
            rebate_rate=rebate_rate,
            channel_fee=channel_fee,
            visit_rate=visit_rate,
            visit_cost=visit_cost,
            promo_prob=promo_prob,
            promo_share=promo_share,
            idx=idx,
        )

    def _calibrate(self) -> None:
        """Order frequencies so that 2024-2026 averages about `lines_per_day` lines a day.

        Frequency grows with size but saturates (a shop orders at most about daily); the
        value per line then makes up the rest, so revenue follows size at any scale."""
        c = self._c
        grid = np.arange(3, _HORIZON_END, 7)  # Thursdays: a sample of the horizon
        activity = (self._intensity(grid) ** 0.6 * _SEASON[_month_of(grid) % 12]).mean(axis=1)
        lines_per_order = 1 + 5 * c.p_lines
        repeat = ~c.once
        driver = c.size**0.6

        def freq(kappa: float) -> np.ndarray:
            return _FMAX * (1 - np.exp(-kappa * driver / _FMAX))

        target = self.lines_per_day / (1 + _RETURN_RATE)
        lo, hi = -14.0, 8.0  # bisection on log(kappa)
        for _ in range(60):
            mid = (lo + hi) / 2
            total = (freq(np.exp(mid)) * lines_per_order * activity)[repeat].sum()
            lo, hi = (mid, hi) if total < target else (lo, mid)
        f = np.where(repeat, freq(np.exp((lo + hi) / 2)), 0.0)
        c.freq[:] = f
        daily_value = c.size * _R0 * 12 / 365.25
        c.line_value[:] = np.where(
            repeat, daily_value / np.maximum(f * lines_per_order, 1e-12), c.size * _R0
        )
        c.line_value[c.once] = c.size[c.once] * _R0 / lines_per_order[c.once]

    def _intensity(self, days: np.ndarray) -> np.ndarray:
        """Activity of every customer on each day, 1 = its normal self, 0 = not buying.
        The planted stories (growth, churn, blocking) live here; one-off buyers are 0
        because their single order is placed explicitly."""
        c = self._c
        d = days[None, :]
        m = (d > c.created[:, None]).astype(np.float64)
        m[c.once] = 0.0
        months = np.clip(_month_of(days), 0, _GROWER_MONTHS - 1)
        m[c.idx["grower"]] *= 1.1 ** months[None, :]
        ramp = (_CHURN_STOP - days) / (_CHURN_STOP - _CHURN_START)
        churn = np.where(
            days < _CHURN_START, 1.0, np.where(days < _CHURN_STOP, 0.05 + 0.55 * ramp, 0)
        )
        m[c.idx["churner"]] *= churn[None, :]
        m[c.idx["blocked"]] *= np.where(days >= _BLOCK_DAY, 0.2, 1.0)[None, :]
        return m

    # ------------------------------------------------------------------ month chunks
    def _streams(self, mi: int) -> list[np.random.Generator]:
        year, month = 2024 + mi // 12, mi % 12 + 1
        seq = np.random.SeedSequence([self.seed, year, month])
        return [np.random.default_rng(s) for s in seq.spawn(8)]

    def _month_prices(self, mi: int) -> tuple[np.ndarray, np.ndarray]:
        """(products, days) unit price and promotion flag: ~3 promo days per product and
        month (Mon-Sat), 20-30% below list; list price on every other day."""
        rng = self._streams(mi)[_S_PRICES]
        days = np.arange(_month_start(mi), _month_start(mi + 1))
        n_p = self._p.ids.size
        keys = rng.random((n_p, days.size))
        keys[:, days % 7 == 6] = 2.0
        picked = np.argsort(keys, axis=1, kind="stable")[:, :_PROMO_PER_MONTH]
        promo = np.zeros((n_p, days.size), dtype=bool)
        promo[np.arange(n_p)[:, None], picked] = True
        depth = rng.uniform(0.20, 0.30, (n_p, days.size))
        list_price = self._p.list_price[:, None]
        price = np.where(promo, np.round(list_price * (1 - depth), 2), list_price)
        return price, promo

    def _chunk(self, table: str, mi: int) -> _Arrays:
        """One table of month chunk `mi`, generating (and caching) the whole chunk if needed."""
        hit = self._chunks[table].get(mi)
        if hit is None:
            for name, arrays in self._generate(mi).items():
                self._chunks[name].put(mi, arrays)
            hit = self._chunks[table].get(mi)
            assert hit is not None
        return hit

    def _generate(self, mi: int) -> dict[str, _Arrays]:
        """Everything caused in month `mi`: its orders and lines, the returns of those lines,
        their invoices and payments (possibly dated months later) and the month's cost to
        serve. Rows carry `day` (their business date) and `entered` (first day known)."""
        c, p = self._c, self._p
        n_c = self.customers
        year, month = 2024 + mi // 12, mi % 12 + 1
        base = (year * 100 + month) * _ID_BASE
        d0, d1 = _month_start(mi), _month_start(mi + 1)
        days = np.arange(d0, d1)
        dow = days % 7
        rs = self._streams(mi)
        price, promo = self._month_prices(mi)

        # Orders: Poisson per customer-day from its frequency, activity and the weekday.
        m = self._intensity(days)
        lam = c.freq[:, None] * m**0.6 * _DOW[c.dow_profile][:, dow] * _SEASON[month - 1]
        n_promo = promo.sum(axis=0)
        selling = n_promo[dow != 6]
        lam[c.idx["price_chaser"]] *= n_promo / max(float(selling.mean()), 1e-9)
        counts = rs[_S_ORDERS].poisson(lam)
        forced = np.nonzero(c.once & (c.once_day >= d0) & (c.once_day < d1))[0]
        counts[forced, c.once_day[forced] - d0] = 1
        per_day = counts.T
        od, oc = np.nonzero(per_day)  # day-major, then customer
        reps = per_day[od, oc]
        o_day, o_cust = np.repeat(od, reps), np.repeat(oc, reps)
        n_ord = o_day.size
        order_id = base + 1 + np.arange(n_ord, dtype=np.int64)

        # Lines: 1-6 distinct products per order, chosen by preference (promo-aware).
        rl = rs[_S_LINES]
        k = 1 + rl.binomial(5, c.p_lines[o_cust])
        chase = np.isin(o_cust, c.idx["price_chaser"])
        k[chase] = np.minimum(k[chase], np.maximum(n_promo[o_day[chase]], 1))
        top = self._pick_products(rl, o_cust, o_day, promo)
        starts = np.cumsum(k) - k
        l_ord = np.repeat(np.arange(n_ord), k)
        n_l = l_ord.size
        l_prod = top[l_ord, np.arange(n_l) - np.repeat(starts, k)].astype(np.int64)
        l_cust, l_dix = o_cust[l_ord], o_day[l_ord]
        day_price = price[l_prod, l_dix]
        on_promo = promo[l_prod, l_dix]
        unit_price = day_price.copy()
        squeezed = np.isin(l_cust, c.idx["chicken_rib"])
        squeeze = rl.uniform(0.86, 0.90, n_l)  # drawn for every line: stable streams
        unit_price[squeezed] = np.round(day_price[squeezed] * squeeze[squeezed], 2)
        mv = m[l_cust, l_dix]
        mv = np.where(mv > 0, mv, 1.0) ** 0.4
        noise = np.exp(rl.normal(-0.125, 0.5, n_l))
        uplift = np.where(on_promo, c.promo_qty[l_cust], 1.0)
        raw = c.line_value[l_cust] * mv * noise * uplift / unit_price
        by_weight = p.by_weight[l_prod]
        qty = np.where(
            by_weight, np.round(np.maximum(raw, 0.25), 3), np.maximum(np.round(raw), 1.0)
        )
        unit_cost = p.unit_cost[l_prod]
        qty = _untie(qty, unit_price, unit_cost, by_weight)
        # A small per-line discount: most lines none, big lines a volume discount.
        gross = qty * unit_price
        p_disc = np.where(gross > 2000, 0.25, 0.04) * ~np.isin(l_cust, c.idx["price_chaser"])
        rate = np.where(rl.random(n_l) < p_disc, rl.choice([0.01, 0.02, 0.03], n_l), 0.0)
        discount = np.round(gross * rate, 2)
        net = np.round(qty * unit_price - discount, 2)
        cost = np.round(qty * unit_cost, 2)

        # Late corrections: on a few days ~3% of the orders (at least one) arrive 3 days late.
        rlate = rs[_S_LATE]
        late_day = (rs[_S_LATE_DAYS].random(days.size) < _LATE_DAY_RATE) & (dow != 6)
        u = rlate.random(n_ord)
        late = np.zeros(n_ord, dtype=bool)
        if n_ord:
            first = np.r_[0, np.nonzero(np.diff(o_day))[0] + 1]
            day_min = np.repeat(np.minimum.reduceat(u, first), np.diff(np.r_[first, n_ord]))
            late = late_day[o_day] & ((u < _LATE_SHARE) | (u == day_min))
        o_abs = d0 + o_day
        o_entered = o_abs + _LATE_DELAY * late

        # Returns: ~2% of lines come back 1-21 days later, part of the quantity, at the
        # price paid; each return is its own credit order (not invoiced).
        rr = rs[_S_RETURNS]
        src = np.nonzero((rr.random(n_l) < _RETURN_RATE) & c.returns_ok[l_cust])[0]
        r_day = _skip_sunday(d0 + l_dix[src] + rr.integers(1, 22, src.size))
        frac = rr.uniform(0.1, 1.0, src.size)
        keep = r_day < c.stop[l_cust[src]]
        src, r_day, frac = src[keep], r_day[keep], frac[keep]
        r_order = np.lexsort((src, l_cust[src], r_day))
        src, r_day, frac = src[r_order], r_day[r_order], frac[r_order]
        r_bw = by_weight[src]
        r_qty = np.where(
            r_bw,
            np.maximum(np.round(qty[src] * frac, 3), 0.001),
            np.maximum(np.floor(qty[src] * frac), 1.0),
        )
        r_qty = -_untie(r_qty, unit_price[src], unit_cost[src], r_bw)
        r_disc = np.zeros(src.size)
        r_net = np.round(r_qty * unit_price[src] - r_disc, 2)
        r_cost = np.round(r_qty * unit_cost[src], 2)
        n_r = src.size
        if max(n_l + n_r, n_ord + n_r) >= _ID_BASE:
            raise ValueError("too many lines in one month for the demo's id scheme")

        sales = {
            "id": base + 1 + np.arange(n_l + n_r, dtype=np.int64),
            "order_id": np.r_[order_id[l_ord], base + n_ord + 1 + np.arange(n_r, dtype=np.int64)],
            "day": np.r_[d0 + l_dix, r_day],
            "customer": np.r_[l_cust, l_cust[src]],
            "product": np.r_[l_prod, l_prod[src]],
            "quantity": np.r_[qty, r_qty],
            "unit_price": np.r_[unit_price, unit_price[src]],
            "discount": np.r_[discount, r_disc],
            "net": np.r_[net, r_net],
            "cost": np.r_[cost, r_cost],
            "entered": np.r_[o_entered[l_ord], r_day],
        }

        # Invoices: one per sales order, for its net total.
        amount = np.round(np.add.reduceat(net, starts), 2) if n_ord else np.zeros(0)
        terms = c.terms[o_cust]
        invoices = {
            "id": order_id,
            "customer": o_cust,
            "day": o_abs,
            "due": o_abs + terms,
            "amount": amount,
            "entered": o_entered,
        }
        payments = self._payments(rs[_S_PAY], mi, base, order_id, o_cust, o_abs, terms, amount)
        month_net = np.bincount(l_cust, net, n_c) + np.bincount(l_cust[src], r_net, n_c)
        costs = self._costs(rs[_S_COST], mi, base, m, o_cust, o_abs, o_entered, amount, month_net)
        return {
            "sales_lines": _compact(sales),
            "ar_invoices": _compact(invoices),
            "ar_payments": _compact(payments),
            "cost_to_serve": _compact(costs),
        }

    def _pick_products(
        self, rng: np.random.Generator, o_cust: np.ndarray, o_day: np.ndarray, promo: np.ndarray
    ) -> np.ndarray:
        """Six distinct products per order, best first, drawn without replacement in
        proportion to the customer's preference (an exponential race: the smallest
        Exp/weight win). Blocks bound the memory at benchmark scale."""
        n, n_p = o_cust.size, self._p.ids.size
        out = np.empty((n, 6), dtype=np.int16)
        promo_t = promo.T
        block = 65_536
        for s in range(0, n, block):
            cu, dd = o_cust[s : s + block], o_day[s : s + block]
            w = self._c.weights[cu] * np.where(promo_t[dd], self._c.promo_factor[cu, None], 1)
            keys = rng.standard_exponential((cu.size, n_p), dtype=np.float32) / w
            rows = np.arange(cu.size)
            for j in range(6):  # six argmins beat a partition + sort on 60 columns
                best = keys.argmin(axis=1)
                out[s + rows, j] = best
                keys[rows, best] = np.inf
        return out

    def _payments(
        self,
        rng: np.random.Generator,
        mi: int,
        base: int,
        invoice_id: np.ndarray,
        cust: np.ndarray,
        inv_day: np.ndarray,
        terms: np.ndarray,
        amount: np.ndarray,
    ) -> _Arrays:
        """Payments of this month's invoices, whenever they fall: reliable payers within
        terms, prompt ones mostly so, slow ones around the due date, bad payers 60-200
        days late and, from 2025-01, a growing share never. ~6% are paid in two parts."""
        n = invoice_id.size
        style = self._c.pay_style[cust]
        within = np.rint(terms * rng.uniform(0.25, 1.0, n))
        a_bit_late = terms + rng.integers(1, 11, n)
        slow = terms + rng.integers(-5, 26, n)
        very_late = terms + rng.integers(60, 201, n)
        is_late = rng.random(n) < 0.1
        lag = np.select(
            [style == _TERMS_RELIABLE, style == _PROMPT, style == _SLOW],
            [within, np.where(is_late, a_bit_late, within), slow],
            very_late,
        )
        # At least 5 days: a late-entered invoice (known on day + 3) is known before it is paid.
        lag = np.maximum(lag, 5).astype(np.int64)
        p_never = 0.0 if mi < _BAD_DEBT_MONTH else min(0.85, 0.15 + 0.05 * (mi - _BAD_DEBT_MONTH))
        never = (style == _BAD) & (rng.random(n) < p_never)
        split = rng.random(n) < 0.06
        first_share = rng.uniform(0.3, 0.7, n)
        gap = rng.integers(5, 31, n)
        # Banks book on weekdays: on-time payers pay the Friday before, late ones the Monday after.
        on_time = (style == _TERMS_RELIABLE) | ((style == _PROMPT) & ~is_late)
        due = inv_day + terms
        day1 = np.where(on_time, _prev_weekday(inv_day + lag), _next_weekday(inv_day + lag))
        day2 = np.where(
            on_time,
            np.maximum(_prev_weekday(np.minimum(day1 + gap, due)), day1),
            _next_weekday(day1 + gap),
        )
        a1 = np.where(split, np.round(amount * first_share, 2), amount)
        a2 = np.round(amount - a1, 2)
        one, two = ~never, ~never & split & (a2 > 0)
        if n and max((day1 - inv_day).max(), (day2 - inv_day).max()) > _MAX_PAY_LAG:
            raise RuntimeError("a payment falls beyond the months a payments view looks back")
        inv = np.r_[invoice_id[one], invoice_id[two]]
        part = np.r_[np.zeros(one.sum(), np.int64), np.ones(two.sum(), np.int64)]
        order = np.lexsort((part, inv))
        day = np.r_[day1[one], day2[two]][order]
        return {
            "id": base + 1 + np.arange(order.size, dtype=np.int64),
            "customer": np.r_[cust[one], cust[two]][order],
            "invoice_id": inv[order],
            "day": day,
            "amount": np.r_[a1[one], a2[two]][order],
            "entered": day,
        }

    def _costs(
        self,
        rng: np.random.Generator,
        mi: int,
        base: int,
        m: np.ndarray,
        o_cust: np.ndarray,
        o_day: np.ndarray,
        o_entered: np.ndarray,
        o_amount: np.ndarray,
        month_net: np.ndarray,
    ) -> _Arrays:
        """The month's cost to serve: freight per order, a rebate on the month's last day,
        quarterly channel fees, and occasional promotion support, samples and service."""
        c, n = self._c, self.customers
        d0 = _month_start(mi)
        last = _month_start(mi + 1) - 1
        nd = m.shape[1]
        weekdays = np.nonzero((d0 + np.arange(nd)) % 7 < 5)[0]
        active = m.max(axis=1) > 0
        level = m.mean(axis=1)
        parts: list[tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray]] = []

        def add(cust: np.ndarray, day: np.ndarray, kind: str, amt: np.ndarray, ent=None) -> None:
            amt = np.round(amt, 2)
            ok = amt >= 0.01
            entered = day if ent is None else ent
            parts.append((cust[ok], day[ok], _KIND[kind], amt[ok], entered[ok]))

        # Freight: a few % of the order value, with a minimum fee; none for pick-ups.
        rate = c.freight_rate[o_cust]
        f_amt = np.maximum(c.freight_min[o_cust], rate * o_amount) * rng.uniform(
            0.9, 1.1, o_cust.size
        )
        has = rate > 0
        add(o_cust[has], o_day[has], "freight", f_amt[has], o_entered[has])

        # Rebate: a share of the month's net sales, booked on the month's last day.
        everyone = np.arange(n)
        add(everyone, np.full(n, last), "rebate", np.maximum(c.rebate_rate * month_net, 0.0))

        # Channel (listing) fee: negotiated quarterly amounts, on the quarter's last day.
        if (mi % 12 + 1) % 3 == 0:
            fee = c.channel_fee * level * rng.uniform(0.95, 1.05, n) * active
            add(everyone, np.full(n, last), "channel_fee", fee)

        def on_weekdays(cust: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            day = weekdays[rng.integers(0, weekdays.size, cust.size)]
            ok = m[cust, day] > 0  # only while the customer is buying
            return cust[ok], day[ok]

        # Service visits by sales reps.
        visits = rng.poisson(c.visit_rate * active)
        v_cust, v_day = on_weekdays(np.repeat(everyone, visits))
        add(v_cust, d0 + v_day, "service", rng.uniform(40, 120, v_cust.size) * c.visit_cost[v_cust])

        # Promotion support, now and then.
        p_cust, p_day = on_weekdays(everyone[active & (rng.random(n) < c.promo_prob)])
        support = c.size[p_cust] * _R0 * level[p_cust] * c.promo_share[p_cust]
        add(p_cust, d0 + p_day, "promotion", support * rng.uniform(0.6, 1.4, p_cust.size))

        # Free samples, a few times a year.
        s_cust, s_day = on_weekdays(everyone[active & (rng.random(n) < 0.15)])
        samples = rng.uniform(30, 250, s_cust.size) * c.size[s_cust] ** 0.25
        add(s_cust, d0 + s_day, "samples", samples)

        cust = np.concatenate([x[0] for x in parts])
        day = np.concatenate([x[1] for x in parts])
        kind = np.concatenate([np.full(x[0].size, x[2]) for x in parts])
        amt = np.concatenate([x[3] for x in parts])
        entered = np.concatenate([x[4] for x in parts])
        order = np.lexsort((kind, cust, day))
        return {
            "id": base + 1 + np.arange(order.size, dtype=np.int64),
            "customer": cust[order],
            "day": day[order],
            "kind": kind[order],
            "amount": amt[order],
            "entered": entered[order],
        }

    # ------------------------------------------------------------------ delivery
    def _spec(self, table: str) -> TableSpec:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
        return TABLES[table]

    def _view(self, table: str, mi: int) -> _Arrays:
        """Rows of `table` dated in month `mi`, from every chunk that can own them,
        sorted by (date, key)."""
        hit = self._views.get((table, mi))
        if hit is not None:
            return hit
        d0, d1 = _month_start(mi), _month_start(mi + 1)
        first = max(0, int(_month_of(d0 - _LAG[table])))
        parts = [self._chunk(table, j) for j in range(first, mi + 1)]
        merged = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
        inside = (merged["day"] >= d0) & (merged["day"] < d1)
        merged = {k: v[inside] for k, v in merged.items()}
        order = np.lexsort((merged["id"], merged["day"]))
        view = {k: v[order] for k, v in merged.items()}
        self._views.put((table, mi), view)
        return view

    def _facts(self, table: str, s: int, e: int, known: int) -> pd.DataFrame:
        """Rows dated s..e (day offsets) known by `known`, in (date, key) order."""
        s = max(s, 0)
        pieces: list[_Arrays] = []
        if s <= e:
            for mi in range(int(_month_of(s)), int(_month_of(e)) + 1):
                view = self._view(table, mi)
                lo, hi = np.searchsorted(view["day"], [s, e + 1])
                keep = view["entered"][lo:hi] <= known
                pieces.append({k: v[lo:hi][keep] for k, v in view.items()})
        if not pieces:
            pieces = [{k: v[:0] for k, v in self._chunk(table, 0).items()}]
        rows = {k: np.concatenate([piece[k] for piece in pieces]) for k in pieces[0]}
        return self._fact_frame(table, rows)

    def _fact_frame(self, table: str, r: _Arrays) -> pd.DataFrame:
        """Internal arrays to the contract's columns, in contract order and dtypes."""
        cust = self._c.ids.take(r["customer"].astype(np.int64))
        if table == "sales_lines":
            cols = {
                "line_id": _id_text(r["id"]),
                "order_id": _id_text(r["order_id"]),
                "order_date": _dates(r["day"]),
                "customer_id": cust,
                "product_id": self._p.ids.take(r["product"].astype(np.int64)),
                "quantity": r["quantity"],
                "unit_price": r["unit_price"],
                "discount_amount": r["discount"],
                "net_amount": r["net"],
                "cost_amount": r["cost"],
            }
        elif table == "cost_to_serve":
            cols = {
                "entry_id": _id_text(r["id"]),
                "customer_id": cust,
                "entry_date": _dates(r["day"]),
                "kind": self._kinds.take(r["kind"].astype(np.int64)),
                "amount": r["amount"],
            }
        elif table == "ar_invoices":
            cols = {
                "invoice_id": _id_text(r["id"]),
                "customer_id": cust,
                "invoice_date": _dates(r["day"]),
                "due_date": _dates(r["due"]),
                "amount": r["amount"],
            }
        else:
            cols = {
                "payment_id": _id_text(r["id"]),
                "customer_id": cust,
                "invoice_id": _id_text(r["invoice_id"]),
                "payment_date": _dates(r["day"]),
                "amount": r["amount"],
            }
        frame = pd.DataFrame(cols)
        assert list(frame.columns) == list(TABLES[table].columns)
        return frame

    def _snapshot_days(self, table: str, s: int, e: int) -> np.ndarray:
        """`s` and every day in (s, e] on which the master differs from the day before."""
        if table == "products":
            return np.array([s])
        created = self._c.created
        changes = np.unique(created[(created > s) & (created <= e)])
        if s < _BLOCK_DAY <= e:
            changes = np.union1d(changes, [_BLOCK_DAY])
        return np.r_[s, changes].astype(np.int64)

    def _master(self, table: str, snaps: np.ndarray, with_business_date: bool) -> pd.DataFrame:
        """Full snapshots of a master table, one per day in `snaps`, key-sorted within."""
        if table == "products":
            p = self._p
            kk, pp = np.nonzero(np.ones((snaps.size, p.ids.size), dtype=bool))
            frame = pd.DataFrame(
                {
                    "product_id": p.ids.take(pp),
                    "name": p.names.take(pp),
                    "category": self._categories.take(p.category[pp]),
                    "list_price": p.list_price[pp],
                    "unit_cost": p.unit_cost[pp],
                }
            )
        else:
            c = self._c
            kk, cc = np.nonzero(c.created[None, :] <= snaps[:, None])
            frame = pd.DataFrame(
                {
                    "customer_id": c.ids.take(cc),
                    "name": c.names.take(cc),
                    "region": self._regions.take(c.region[cc]),
                    "channel": self._channels.take(c.channel[cc]),
                    "created_date": _dates(c.created[cc]),
                    "credit_limit": c.credit_limit[cc],
                    "blocked": (cc == _BLOCKED_IDX) & (snaps[kk] >= _BLOCK_DAY),
                }
            )
        assert list(frame.columns) == list(TABLES[table].columns)
        if with_business_date:
            frame[BUSINESS_DATE] = _dates(snaps[kk])
        return frame


def _customer_names(
    rng: np.random.Generator, channel: np.ndarray
) -> pd.api.extensions.ExtensionArray:
    """Plausible trade names ("Golden Harbor Mart"), built column-wise, not per customer."""
    first = np.array(["Golden", "Lucky", "Silver", "Green", "Red", "Eastern", "Happy", "Grand"])
    second = np.array(["Harbor", "River", "Valley", "Garden", "Bridge", "Star", "Lake", "Hill"])
    suffix = np.array(["Mart", "Trading Co.", "Supermarket", "Kitchen", "Group Buy"])
    n = channel.size
    names = (
        pd.Series(_str_array(first[rng.integers(0, first.size, n)]))
        + " "
        + pd.Series(_str_array(second[rng.integers(0, second.size, n)]))
        + " "
        + pd.Series(_str_array(suffix[channel]))
    )
    return names.array


def _untie(
    qty: np.ndarray, price: np.ndarray, cost: np.ndarray, by_weight: np.ndarray
) -> np.ndarray:
    """Nudge fractional quantities whose amount would end in exactly half a cent.

    quantity (3 decimals) x price (2 decimals) can end in ...5 at the 3rd decimal; binary
    floats and warehouse decimals may round such a tie differently, so the demo never
    produces one and `round(q * p - d, 2)` is unambiguous everywhere."""
    qty = qty.copy()
    price_c = np.rint(price * 100).astype(np.int64)
    cost_c = np.rint(cost * 100).astype(np.int64)
    for _ in range(8):
        milli = np.rint(np.abs(qty) * 1000).astype(np.int64)
        tie = by_weight & (((milli * price_c) % 1000 == 500) | ((milli * cost_c) % 1000 == 500))
        if not tie.any():
            break
        qty[tie] = np.round(qty[tie] + 0.001, 3)
    return qty


def _compact(arrays: _Arrays) -> _Arrays:
    """Narrow integer codes so a benchmark-scale chunk stays small in the cache."""
    narrow = {"customer": np.int32, "product": np.int16, "kind": np.int8, "day": np.int32}
    narrow |= {"due": np.int32, "entered": np.int32}
    return {k: v.astype(narrow.get(k, v.dtype), copy=False) for k, v in arrays.items()}
