"""Cost to serve of a month: freight, rebates, channel fees, promotion support, samples
and service visits, per customer.

Why per month: rebates and fees are booked on month and quarter ends from the month's
sales, and the occasional entries (visits, samples, support) are drawn per customer-month.
"""

from __future__ import annotations

import numpy as np

from customer_tiering.contract import COST_KINDS
from customer_tiering.sources.demo.calendar import month_start
from customer_tiering.sources.demo.world import R0, Customers

KIND = {kind: code for code, kind in enumerate(COST_KINDS)}


def month_costs(
    c: Customers,
    rng: np.random.Generator,
    mi: int,
    base: int,
    m: np.ndarray,
    o_cust: np.ndarray,
    o_day: np.ndarray,
    o_entered: np.ndarray,
    o_amount: np.ndarray,
    month_net: np.ndarray,
) -> dict[str, np.ndarray]:
    """The month's cost to serve: freight per order, a rebate on the month's last day,
    quarterly channel fees, and occasional promotion support, samples and service."""
    n = c.arch.size
    d0 = month_start(mi)
    last = month_start(mi + 1) - 1
    nd = m.shape[1]
    weekdays = np.nonzero((d0 + np.arange(nd)) % 7 < 5)[0]
    active = m.max(axis=1) > 0
    level = m.mean(axis=1)
    parts: list[tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray]] = []

    def add(
        cust: np.ndarray,
        day: np.ndarray,
        kind: str,
        amt: np.ndarray,
        ent: np.ndarray | None = None,
    ) -> None:
        amt = np.round(amt, 2)
        ok = amt >= 0.01
        entered = day if ent is None else ent
        parts.append((cust[ok], day[ok], KIND[kind], amt[ok], entered[ok]))

    # Freight: a few % of the order value, with a minimum fee; none for pick-ups.
    rate = c.freight_rate[o_cust]
    f_amt = np.maximum(c.freight_min[o_cust], rate * o_amount) * rng.uniform(0.9, 1.1, o_cust.size)
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
    support = c.size[p_cust] * R0 * level[p_cust] * c.promo_share[p_cust]
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
