"""The static world of the demo ERP: products, customers, their habits and the archetypes.

Why apart from the month steps: the world is built once per (seed, customers,
lines_per_day) and only read afterwards; every month step is a pure function of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from statistics import NormalDist

import numpy as np
import pandas as pd

from customer_tiering.sources.demo.calendar import (
    BLOCK_DAY,
    CHURN_START,
    CHURN_STOP,
    GROUP_BUY_DAY,
    GROUP_CREATED,
    GROWER_MONTHS,
    HORIZON_END,
    day_of,
    month_of,
    skip_sunday,
)

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
ARCH_CODE = {name: code for code, name in enumerate(ARCHETYPES)}
# Fixed ids so tests and the lead can find them: C00001.. in this order.
FIXED = (
    ["steady_big"] * 5
    + ["group_buyer", "chicken_rib"]
    + ["bad_payer"] * 2
    + ["churner"] * 2
    + ["grower"] * 2
    + ["price_chaser"] * 2
    + ["blocked"]
)
N_FIXED = len(FIXED)
BLOCKED_IDX = FIXED.index("blocked")

CHANNELS = ("retail", "sub_distributor", "supermarket", "restaurant", "group_buyer")
CHANNEL_P = (0.52, 0.10, 0.10, 0.24, 0.04)
CHANNEL_SIZE = np.array([1.0, 2.5, 1.8, 0.8, 1.0])  # sub-distributors buy more than shops
FIXED_CHANNEL = {
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
REGION_P = (0.2, 0.25, 0.3, 0.1, 0.15)

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
BY_WEIGHT = ("fresh_meat", "produce")  # sold by the kg: fractional quantities
N_PRODUCTS = 60

# Weekday weights (Mon..Sun), each row averaging 1 over a week. Shops rest on Sunday;
# restaurants and supermarkets restock a little on Sunday too.
DOW = np.array([[1.15, 1.1, 1.05, 1.1, 1.25, 0.6, 0.0], [1.05, 1.0, 1.0, 1.05, 1.2, 1.0, 0.45]])
DOW = DOW * 7 / DOW.sum(axis=1, keepdims=True)
SEASON = np.array([0.95, 0.85, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95, 1.0, 1.05, 1.05, 1.2])

R0 = 3000.0  # monthly revenue of the median small customer, in currency units
SIGMA = 1.35  # spread of customer sizes (lognormal): the top 20% hold about 75-80%
FMAX = 1.0  # orders per day a single customer saturates at
RETURN_RATE = 0.02
MAX_RETURN_LAG = 22  # days from a sale to its return (21 plus a Sunday shift)
MAX_PAY_LAG = 300  # days from an invoice to its last payment (bound checked)
LATE_DAY_RATE = 0.023  # of Mon-Sat days, so ~2% of calendar days
LATE_SHARE = 0.03  # of a late day's orders
LATE_DELAY = 3  # late rows are known from day + 3
PROMO_PER_MONTH = 3
ID_BASE = 10**8  # ids are yyyymm * 10^8 + sequence within the owning chunk
TERMS_RELIABLE, PROMPT, SLOW, BAD = range(4)  # payment styles


def str_array(values: object) -> pd.api.extensions.ExtensionArray:
    return pd.array(np.asarray(values, dtype=object), dtype="str")


@dataclass(frozen=True)
class Products:
    ids: pd.api.extensions.ExtensionArray
    names: pd.api.extensions.ExtensionArray
    category: np.ndarray  # code into CATEGORIES
    list_price: np.ndarray
    unit_cost: np.ndarray
    by_weight: np.ndarray
    popularity: np.ndarray


@dataclass(frozen=True)
class Customers:
    """Static per-customer parameters; index i is customer C{i+1:05d}."""

    ids: pd.api.extensions.ExtensionArray
    names: pd.api.extensions.ExtensionArray
    arch: np.ndarray
    region: np.ndarray
    channel: np.ndarray
    created: np.ndarray  # day offset; a customer buys only after it
    credit_limit: np.ndarray
    size: np.ndarray  # expected monthly revenue in units of R0
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


def build_products(seed: int) -> Products:
    """~60 products in a handful of categories, list price 5-500, cost 60-85% of list."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0, 0, 1]))
    n = N_PRODUCTS
    category = np.sort(rng.integers(0, len(CATEGORIES), n))
    raw = np.exp(rng.uniform(np.log(5.0), np.log(500.0), n))
    list_price = np.clip(np.round(np.round(raw * 2) / 2 - 0.01, 2), 5.0, 500.0)
    unit_cost = np.round(list_price * rng.uniform(0.60, 0.85, n), 2)
    by_weight = np.isin(np.asarray(CATEGORIES)[category], BY_WEIGHT)
    # Cheap everyday goods sell more often than expensive ones.
    popularity = np.exp(rng.normal(0.0, 0.7, n)) * list_price**-0.3
    brands = np.array(["Sunrise", "Golden", "Jade", "Lotus", "Harbor", "Evergreen", "Silk"])
    sizes = np.array(["Small", "Classic", "Family", "Value", "Premium", "Bulk"])
    cat_names = pd.Series(str_array(CATEGORIES)).take(category).reset_index(drop=True)
    names = (
        pd.Series(str_array(brands[rng.integers(0, brands.size, n)]))
        + " "
        + cat_names.str.replace("_", " ").str.title()
        + " "
        + pd.Series(str_array(sizes[rng.integers(0, sizes.size, n)]))
    )
    ids = "P" + pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(4)
    return Products(
        ids=ids.array,
        names=names.array,
        category=category,
        list_price=list_price,
        unit_cost=unit_cost,
        by_weight=by_weight,
        popularity=popularity,
    )


def build_customers(seed: int, n: int, p: Products) -> Customers:
    """Sizes, channels, dates and habits of every customer, archetypes planted first.
    Order frequency and line value are left at zero for `calibrate` to set."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0, 0, 2]))
    arch = np.full(n, ARCH_CODE["small_steady"], dtype=np.int8)
    arch[:N_FIXED] = [ARCH_CODE[a] for a in FIXED]
    n_new = round(0.3 * n)
    new = np.arange(n) >= n - n_new
    arch[new] = ARCH_CODE["new"]
    idx = {a: np.nonzero(arch == ARCH_CODE[a])[0] for a in ARCHETYPES}

    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_P)
    channel[:N_FIXED] = [CHANNELS.index(FIXED_CHANNEL[a]) for a in FIXED]
    channel[idx["steady_big"][3:]] = CHANNELS.index("supermarket")
    region = rng.choice(len(REGIONS), size=n, p=REGION_P)

    # Existing customers get ids in order of creation; new ones are created on Mondays
    # (the weekly master-data batch), evenly over 2024-2026, so the master changes weekly.
    created = np.empty(n, dtype=np.int64)
    n_old = n - N_FIXED - n_new
    created[N_FIXED : N_FIXED + n_old] = np.sort(rng.integers(day_of(date(2012, 1, 1)), 0, n_old))
    created[:N_FIXED] = rng.integers(day_of(date(2015, 1, 1)), day_of(date(2023, 1, 1)), N_FIXED)
    created[idx["group_buyer"]] = GROUP_CREATED
    new_days = np.floor(np.linspace(0, HORIZON_END, n_new, endpoint=False)).astype(np.int64)
    created[new] = new_days - new_days % 7

    # Sizes: lognormal (long tail) for the many small ones; archetypes planted.
    z = rng.standard_normal(n)
    size = np.exp(SIGMA * z) * CHANNEL_SIZE[channel]
    once = new & (rng.random(n) < 0.35)
    size[new & ~once] = np.exp(np.log(0.6) + 1.2 * z[new & ~once])
    size[once] = np.exp(np.log(0.8) + 0.8 * z[once])
    big = 1.2 * np.exp(SIGMA * NormalDist().inv_cdf(1 - 1 / n))  # above every small one
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
    once_day[once] = skip_sunday(created[once] + rng.integers(1, 15, n)[once])
    once_day[idx["group_buyer"]] = GROUP_BUY_DAY
    stop = np.full(n, np.iinfo(np.int64).max // 2, dtype=np.int64)
    stop[idx["churner"]] = CHURN_STOP
    stop[once] = once_day[once] + 1
    returns_ok = ~once

    p_lines = np.clip(0.2 + 0.12 * np.log(size), 0.05, 0.9)
    p_lines[idx["group_buyer"]] = 1.0  # six lines
    dow_profile = np.isin(channel, [CHANNELS.index("supermarket"), CHANNELS.index("restaurant")])

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
    pay_style[idx["steady_big"]] = TERMS_RELIABLE
    pay_style[idx["group_buyer"]] = TERMS_RELIABLE
    pay_style[idx["bad_payer"]] = BAD
    for a in ("chicken_rib", "churner", "grower", "price_chaser", "blocked"):
        pay_style[idx[a]] = PROMPT
    credit_limit = np.maximum(5000.0, np.round(size * R0 * terms / 30 * 1.5, -3))

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
    channel_fee = np.round(fee_rate * 3 * size * R0, -1)
    visit_rate = np.clip(0.4 * np.sqrt(size), 0.1, 5.0)
    visit_rate[idx["chicken_rib"]] = 10.0
    visit_cost = np.ones(n)
    visit_cost[idx["chicken_rib"]] = 2.0
    promo_prob = np.clip(0.04 * np.sqrt(size), 0.01, 0.5)
    promo_prob[idx["chicken_rib"]] = 0.9
    promo_share = np.full(n, 0.05)
    promo_share[idx["chicken_rib"]] = 0.06

    names = customer_names(rng, channel)
    ids = "C" + pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(5)
    return Customers(
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


def calibrate(c: Customers, lines_per_day: int) -> Customers:
    """Order frequencies so that 2024-2026 averages about `lines_per_day` lines a day.

    Frequency grows with size but saturates (a shop orders at most about daily); the
    value per line then makes up the rest, so revenue follows size at any scale."""
    grid = np.arange(3, HORIZON_END, 7)  # Thursdays: a sample of the horizon
    activity = (intensity(c, grid) ** 0.6 * SEASON[month_of(grid) % 12]).mean(axis=1)
    lines_per_order = 1 + 5 * c.p_lines
    repeat = ~c.once
    driver = c.size**0.6

    def freq(kappa: float) -> np.ndarray:
        return FMAX * (1 - np.exp(-kappa * driver / FMAX))

    target = lines_per_day / (1 + RETURN_RATE)
    lo, hi = -14.0, 8.0  # bisection on log(kappa)
    for _ in range(60):
        mid = (lo + hi) / 2
        total = (freq(np.exp(mid)) * lines_per_order * activity)[repeat].sum()
        lo, hi = (mid, hi) if total < target else (lo, mid)
    f = np.where(repeat, freq(np.exp((lo + hi) / 2)), 0.0)
    daily_value = c.size * R0 * 12 / 365.25
    line_value = np.where(repeat, daily_value / np.maximum(f * lines_per_order, 1e-12), c.size * R0)
    line_value[c.once] = c.size[c.once] * R0 / lines_per_order[c.once]
    return replace(c, freq=f, line_value=line_value)


def intensity(c: Customers, days: np.ndarray) -> np.ndarray:
    """Activity of every customer on each day, 1 = its normal self, 0 = not buying.
    The planted stories (growth, churn, blocking) live here; one-off buyers are 0
    because their single order is placed explicitly."""
    d = days[None, :]
    m = (d > c.created[:, None]).astype(np.float64)
    m[c.once] = 0.0
    months = np.clip(month_of(days), 0, GROWER_MONTHS - 1)
    m[c.idx["grower"]] *= 1.1 ** months[None, :]
    ramp = (CHURN_STOP - days) / (CHURN_STOP - CHURN_START)
    churn = np.where(days < CHURN_START, 1.0, np.where(days < CHURN_STOP, 0.05 + 0.55 * ramp, 0))
    m[c.idx["churner"]] *= churn[None, :]
    m[c.idx["blocked"]] *= np.where(days >= BLOCK_DAY, 0.2, 1.0)[None, :]
    return m


def customer_names(
    rng: np.random.Generator, channel: np.ndarray
) -> pd.api.extensions.ExtensionArray:
    """Plausible trade names ("Golden Harbor Mart"), built column-wise, not per customer."""
    first = np.array(["Golden", "Lucky", "Silver", "Green", "Red", "Eastern", "Happy", "Grand"])
    second = np.array(["Harbor", "River", "Valley", "Garden", "Bridge", "Star", "Lake", "Hill"])
    suffix = np.array(["Mart", "Trading Co.", "Supermarket", "Kitchen", "Group Buy"])
    n = channel.size
    names = (
        pd.Series(str_array(first[rng.integers(0, first.size, n)]))
        + " "
        + pd.Series(str_array(second[rng.integers(0, second.size, n)]))
        + " "
        + pd.Series(str_array(suffix[channel]))
    )
    return names.array


@dataclass(frozen=True)
class World:
    """Everything a month step reads: the seed, the scale and the calibrated world."""

    seed: int
    lines_per_day: int
    products: Products
    customers: Customers

    @property
    def n_customers(self) -> int:
        return int(self.customers.arch.size)


def build_world(seed: int, customers: int, lines_per_day: int) -> World:
    """Products, then customers calibrated to `lines_per_day`."""
    products = build_products(seed)
    people = calibrate(build_customers(seed, customers, products), lines_per_day)
    return World(seed, lines_per_day, products, people)
