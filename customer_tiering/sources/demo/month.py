"""One month step of the demo ERP: a pure function from the world and a month index to
every fact that month causes (orders and their lines, returns, invoices, payments, cost
to serve), as integer-coded numpy arrays.

Why a pure function per month: each month is seeded from (seed, year, month) alone, so a
day's rows never depend on which range was asked for or in which order, and the facade
is free to cache, stream or parallelise months. Everything here is vectorised over the
month's customers, orders and lines; the only Python loops run over fixed small counts
(six product picks, blocks that bound memory).
"""

from __future__ import annotations

import numpy as np

from customer_tiering.sources.demo.calendar import month_start, skip_sunday
from customer_tiering.sources.demo.costs import month_costs
from customer_tiering.sources.demo.receivables import month_payments
from customer_tiering.sources.demo.world import (
    DOW,
    ID_BASE,
    LATE_DAY_RATE,
    LATE_DELAY,
    LATE_SHARE,
    PROMO_PER_MONTH,
    RETURN_RATE,
    SEASON,
    World,
    intensity,
)

Arrays = dict[str, np.ndarray]

# Random streams spawned per month chunk (fixed positions keep old streams stable).
S_PRICES, S_LATE_DAYS, S_ORDERS, S_LINES, S_RETURNS, S_PAY, S_COST, S_LATE = range(8)
_PICKS = 6  # products drawn per order (an order has 1-6 lines)
_DRAW_BLOCK = 65_536  # orders per block of random keys: the draws are made in these blocks
_CACHE_BLOCK = 2_048  # orders per block of the pick itself: keys stay in the CPU cache


def streams(seed: int, mi: int) -> list[np.random.Generator]:
    year, month = 2024 + mi // 12, mi % 12 + 1
    seq = np.random.SeedSequence([seed, year, month])
    return [np.random.default_rng(s) for s in seq.spawn(8)]


def month_prices(world: World, mi: int) -> tuple[np.ndarray, np.ndarray]:
    """(products, days) unit price and promotion flag: ~3 promo days per product and
    month (Mon-Sat), 20-30% below list; list price on every other day."""
    rng = streams(world.seed, mi)[S_PRICES]
    days = np.arange(month_start(mi), month_start(mi + 1))
    list_price = world.products.list_price
    n_p = list_price.size
    keys = rng.random((n_p, days.size))
    keys[:, days % 7 == 6] = 2.0
    picked = np.argsort(keys, axis=1, kind="stable")[:, :PROMO_PER_MONTH]
    promo = np.zeros((n_p, days.size), dtype=bool)
    promo[np.arange(n_p)[:, None], picked] = True
    depth = rng.uniform(0.20, 0.30, (n_p, days.size))
    price = np.where(promo, np.round(list_price[:, None] * (1 - depth), 2), list_price[:, None])
    return price, promo


def generate_month(world: World, mi: int) -> dict[str, Arrays]:
    """Everything caused in month `mi`: its orders and lines, the returns of those lines,
    their invoices and payments (possibly dated months later) and the month's cost to
    serve. Rows carry `day` (their business date) and `entered` (first day known), and
    come in id order."""
    c, p = world.customers, world.products
    n_c = world.n_customers
    year, month = 2024 + mi // 12, mi % 12 + 1
    base = (year * 100 + month) * ID_BASE
    d0, d1 = month_start(mi), month_start(mi + 1)
    days = np.arange(d0, d1)
    dow = days % 7
    rs = streams(world.seed, mi)
    price, promo = month_prices(world, mi)

    # Orders: Poisson per customer-day from its frequency, activity and the weekday.
    m = intensity(c, days)
    lam = c.freq[:, None] * m**0.6 * DOW[c.dow_profile][:, dow] * SEASON[month - 1]
    n_promo = promo.sum(axis=0)
    selling = n_promo[dow != 6]
    lam[c.idx["price_chaser"]] *= n_promo / max(float(selling.mean()), 1e-9)
    counts = rs[S_ORDERS].poisson(lam)
    forced = np.nonzero(c.once & (c.once_day >= d0) & (c.once_day < d1))[0]
    counts[forced, c.once_day[forced] - d0] = 1
    per_day = counts.T
    od, oc = np.nonzero(per_day)  # day-major, then customer
    reps = per_day[od, oc]
    o_day, o_cust = np.repeat(od, reps), np.repeat(oc, reps)
    n_ord = o_day.size
    order_id = base + 1 + np.arange(n_ord, dtype=np.int64)

    # Lines: 1-6 distinct products per order, chosen by preference (promo-aware).
    rl = rs[S_LINES]
    k = 1 + rl.binomial(5, c.p_lines[o_cust])
    chase = np.isin(o_cust, c.idx["price_chaser"])
    k[chase] = np.minimum(k[chase], np.maximum(n_promo[o_day[chase]], 1))
    top = pick_products(rl, c.weights, c.promo_factor, o_cust, o_day, promo)
    starts = np.cumsum(k) - k
    l_ord = np.repeat(np.arange(n_ord), k)
    n_l = l_ord.size
    slot = np.arange(n_l) - np.repeat(starts, k)
    l_prod = top.reshape(-1)[l_ord * _PICKS + slot].astype(np.int64)
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
    qty = np.where(by_weight, np.round(np.maximum(raw, 0.25), 3), np.maximum(np.round(raw), 1.0))
    unit_cost = p.unit_cost[l_prod]
    qty = untie(qty, unit_price, unit_cost, by_weight)
    # A small per-line discount: most lines none, big lines a volume discount.
    gross = qty * unit_price
    p_disc = np.where(gross > 2000, 0.25, 0.04) * ~np.isin(l_cust, c.idx["price_chaser"])
    rate = np.where(rl.random(n_l) < p_disc, rl.choice([0.01, 0.02, 0.03], n_l), 0.0)
    discount = np.round(gross * rate, 2)
    net = np.round(qty * unit_price - discount, 2)
    cost = np.round(qty * unit_cost, 2)

    # Late corrections: on a few days ~3% of the orders (at least one) arrive 3 days late.
    rlate = rs[S_LATE]
    late_day = (rs[S_LATE_DAYS].random(days.size) < LATE_DAY_RATE) & (dow != 6)
    u = rlate.random(n_ord)
    late = np.zeros(n_ord, dtype=bool)
    if n_ord:
        first = np.r_[0, np.nonzero(np.diff(o_day))[0] + 1]
        day_min = np.repeat(np.minimum.reduceat(u, first), np.diff(np.r_[first, n_ord]))
        late = late_day[o_day] & ((u < LATE_SHARE) | (u == day_min))
    o_abs = d0 + o_day
    o_entered = o_abs + LATE_DELAY * late

    # Returns: ~2% of lines come back 1-21 days later, part of the quantity, at the
    # price paid; each return is its own credit order (not invoiced).
    rr = rs[S_RETURNS]
    src = np.nonzero((rr.random(n_l) < RETURN_RATE) & c.returns_ok[l_cust])[0]
    r_day = skip_sunday(d0 + l_dix[src] + rr.integers(1, 22, src.size))
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
    r_qty = -untie(r_qty, unit_price[src], unit_cost[src], r_bw)
    r_disc = np.zeros(src.size)
    r_net = np.round(r_qty * unit_price[src] - r_disc, 2)
    r_cost = np.round(r_qty * unit_cost[src], 2)
    n_r = src.size
    if max(n_l + n_r, n_ord + n_r) >= ID_BASE:
        raise ValueError("too many lines in one month for the demo's id scheme")

    cat = np.concatenate
    sales = {
        "id": base + 1 + np.arange(n_l + n_r, dtype=np.int64),
        "order_id": cat([order_id[l_ord], base + n_ord + 1 + np.arange(n_r, dtype=np.int64)]),
        "day": cat([d0 + l_dix, r_day]),
        "customer": cat([l_cust, l_cust[src]]),
        "product": cat([l_prod, l_prod[src]]),
        "quantity": cat([qty, r_qty]),
        "unit_price": cat([unit_price, unit_price[src]]),
        "discount": cat([discount, r_disc]),
        "net": cat([net, r_net]),
        "cost": cat([cost, r_cost]),
        "entered": cat([o_entered[l_ord], r_day]),
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
    payments = month_payments(
        c.pay_style, rs[S_PAY], mi, base, order_id, o_cust, o_abs, terms, amount
    )
    month_net = np.bincount(l_cust, net, n_c) + np.bincount(l_cust[src], r_net, n_c)
    costs = month_costs(c, rs[S_COST], mi, base, m, o_cust, o_abs, o_entered, amount, month_net)
    return {
        "sales_lines": compact(sales),
        "ar_invoices": compact(invoices),
        "ar_payments": compact(payments),
        "cost_to_serve": compact(costs),
    }


def pick_products(
    rng: np.random.Generator,
    weights: np.ndarray,
    promo_factor: np.ndarray,
    o_cust: np.ndarray,
    o_day: np.ndarray,
    promo: np.ndarray,
) -> np.ndarray:
    """Six distinct products per order, best first, drawn without replacement in
    proportion to the customer's preference (an exponential race: the smallest
    Exp/weight win; ties go to the lower product index).

    The keys are drawn per block of _DRAW_BLOCK orders (that fixes the random stream);
    the race then runs on small blocks that stay in the CPU cache, with the preference
    multiplied by the promotion factor only where a product is on promotion (x * 1
    is x, so the keys are bit for bit those of a full multiply)."""
    n, n_p = o_cust.size, weights.shape[1]
    out = np.empty((n, _PICKS), dtype=np.int16)
    promo_t = promo.T
    for s in range(0, n, _DRAW_BLOCK):
        cu, dd = o_cust[s : s + _DRAW_BLOCK], o_day[s : s + _DRAW_BLOCK]
        keys = rng.standard_exponential((cu.size, n_p), dtype=np.float32)
        for b in range(0, cu.size, _CACHE_BLOCK):
            cb, db = cu[b : b + _CACHE_BLOCK], dd[b : b + _CACHE_BLOCK]
            w = weights[cb]
            np.multiply(w, promo_factor[cb, None], out=w, where=promo_t[db])
            block = keys[b : b + cb.size]
            block /= w
            flat = block.reshape(-1)
            row_start = np.arange(cb.size) * n_p
            picked = out[s + b : s + b + cb.size]
            for j in range(_PICKS):  # six argmins beat a partition + sort on 60 columns
                best = block.argmin(axis=1)
                picked[:, j] = best
                flat[row_start + best] = np.inf
    return out


def untie(
    qty: np.ndarray, price: np.ndarray, cost: np.ndarray, by_weight: np.ndarray
) -> np.ndarray:
    """Nudge fractional quantities whose amount would end in exactly half a cent.

    quantity (3 decimals) x price (2 decimals) can end in ...5 at the 3rd decimal; binary
    floats and warehouse decimals may round such a tie differently, so the demo never
    produces one and `round(q * p - d, 2)` is unambiguous everywhere. Only goods sold by
    weight can tie, and only a line nudged can tie again: each round checks just those."""
    qty = qty.copy()
    todo = np.nonzero(by_weight)[0]
    price_c = np.rint(price[todo] * 100).astype(np.int64)
    cost_c = np.rint(cost[todo] * 100).astype(np.int64)
    for _ in range(8):
        milli = np.rint(np.abs(qty[todo]) * 1000).astype(np.int64)
        tie = ((milli * price_c) % 1000 == 500) | ((milli * cost_c) % 1000 == 500)
        if not tie.any():
            break
        todo, price_c, cost_c = todo[tie], price_c[tie], cost_c[tie]
        qty[todo] = np.round(qty[todo] + 0.001, 3)
    return qty


def compact(arrays: Arrays) -> Arrays:
    """Narrow integer codes so a benchmark-scale chunk stays small in the cache."""
    narrow = {"customer": np.int32, "product": np.int16, "kind": np.int8, "day": np.int32}
    narrow |= {"due": np.int32, "entered": np.int32}
    return {k: v.astype(narrow.get(k, v.dtype), copy=False) for k, v in arrays.items()}
