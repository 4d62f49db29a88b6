"""Payments of a month's invoices, whenever they fall (up to MAX_PAY_LAG days later).

Why generated with the invoices: a payment's date, amount and existence depend on the
invoice and on the customer's payment style, so the month that issues an invoice owns its
payments; a later month's view finds them by date.
"""

from __future__ import annotations

import numpy as np

from customer_tiering.sources.demo.calendar import BAD_DEBT_MONTH, next_weekday, prev_weekday
from customer_tiering.sources.demo.world import BAD, MAX_PAY_LAG, PROMPT, SLOW, TERMS_RELIABLE


def month_payments(
    pay_style: np.ndarray,
    rng: np.random.Generator,
    mi: int,
    base: int,
    invoice_id: np.ndarray,
    cust: np.ndarray,
    inv_day: np.ndarray,
    terms: np.ndarray,
    amount: np.ndarray,
) -> dict[str, np.ndarray]:
    """Reliable payers within terms, prompt ones mostly so, slow ones around the due date,
    bad payers 60-200 days late and, from 2025-01, a growing share never. ~6% are paid
    in two parts. Rows in (invoice, part) order, which is id order."""
    n = invoice_id.size
    style = pay_style[cust]
    within = np.rint(terms * rng.uniform(0.25, 1.0, n))
    a_bit_late = terms + rng.integers(1, 11, n)
    slow = terms + rng.integers(-5, 26, n)
    very_late = terms + rng.integers(60, 201, n)
    is_late = rng.random(n) < 0.1
    lag = np.select(
        [style == TERMS_RELIABLE, style == PROMPT, style == SLOW],
        [within, np.where(is_late, a_bit_late, within), slow],
        very_late,
    )
    # At least 5 days: a late-entered invoice (known on day + 3) is known before it is paid.
    lag = np.maximum(lag, 5).astype(np.int64)
    p_never = 0.0 if mi < BAD_DEBT_MONTH else min(0.85, 0.15 + 0.05 * (mi - BAD_DEBT_MONTH))
    never = (style == BAD) & (rng.random(n) < p_never)
    split = rng.random(n) < 0.06
    first_share = rng.uniform(0.3, 0.7, n)
    gap = rng.integers(5, 31, n)
    # Banks book on weekdays: on-time payers pay the Friday before, late ones the Monday after.
    on_time = (style == TERMS_RELIABLE) | ((style == PROMPT) & ~is_late)
    due = inv_day + terms
    day1 = np.where(on_time, prev_weekday(inv_day + lag), next_weekday(inv_day + lag))
    day2 = np.where(
        on_time,
        np.maximum(prev_weekday(np.minimum(day1 + gap, due)), day1),
        next_weekday(day1 + gap),
    )
    a1 = np.where(split, np.round(amount * first_share, 2), amount)
    a2 = np.round(amount - a1, 2)
    one, two = ~never, ~never & split & (a2 > 0)
    if n and max((day1 - inv_day).max(), (day2 - inv_day).max()) > MAX_PAY_LAG:
        raise RuntimeError("a payment falls beyond the months a payments view looks back")
    # Invoice ids ascend, so a stable sort on them puts each invoice's part 1 after part 0.
    inv = np.concatenate([invoice_id[one], invoice_id[two]])
    order = np.argsort(inv, kind="stable")
    day = np.concatenate([day1[one], day2[two]])[order]
    return {
        "id": base + 1 + np.arange(order.size, dtype=np.int64),
        "customer": np.concatenate([cust[one], cust[two]])[order],
        "invoice_id": inv[order],
        "day": day,
        "amount": np.concatenate([a1[one], a2[two]])[order],
        "entered": day,
    }
