"""From the generator's integer-coded arrays to the input contract's frames.

Why one place: every frame the demo hands out (a day, a range, a master snapshot, the
price list) gets its columns, order and dtypes here, so the contract is met the same way
whichever path asked. Text columns are Arrow-backed `str` arrays taken from small lookup
arrays (ids, names, kinds) by integer code: nothing builds a Python string per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer_tiering.contract import BUSINESS_DATE, COST_KINDS, TABLES
from customer_tiering.sources.demo.calendar import BLOCK_DAY, as_datetimes
from customer_tiering.sources.demo.world import (
    BLOCKED_IDX,
    CATEGORIES,
    CHANNELS,
    REGIONS,
    World,
    str_array,
)

Arrays = dict[str, np.ndarray]
_KINDS = str_array(COST_KINDS)
_REGIONS = str_array(REGIONS)
_CHANNELS = str_array(CHANNELS)
_CATEGORIES = str_array(CATEGORIES)


def id_text(ids: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Integer document ids as their decimal text: the contract's keys are strings. The
    ids are yyyymm then a sequence, all 14 digits, so text order is number order."""
    return pd.Series(ids, copy=False).astype("str").array


def fact_columns(world: World, table: str, r: Arrays) -> dict[str, object]:
    """Internal arrays to the contract's columns, in contract order (dates as datetime64)."""
    cust = world.customers.ids.take(r["customer"].astype(np.int64))
    if table == "sales_lines":
        return {
            "line_id": id_text(r["id"]),
            "order_id": id_text(r["order_id"]),
            "order_date": as_datetimes(r["day"]),
            "customer_id": cust,
            "product_id": world.products.ids.take(r["product"].astype(np.int64)),
            "quantity": r["quantity"],
            "unit_price": r["unit_price"],
            "discount_amount": r["discount"],
            "net_amount": r["net"],
            "cost_amount": r["cost"],
        }
    if table == "cost_to_serve":
        return {
            "entry_id": id_text(r["id"]),
            "customer_id": cust,
            "entry_date": as_datetimes(r["day"]),
            "kind": _KINDS.take(r["kind"].astype(np.int64)),
            "amount": r["amount"],
        }
    if table == "ar_invoices":
        return {
            "invoice_id": id_text(r["id"]),
            "customer_id": cust,
            "invoice_date": as_datetimes(r["day"]),
            "due_date": as_datetimes(r["due"]),
            "amount": r["amount"],
        }
    return {
        "payment_id": id_text(r["id"]),
        "customer_id": cust,
        "invoice_id": id_text(r["invoice_id"]),
        "payment_date": as_datetimes(r["day"]),
        "amount": r["amount"],
    }


def fact_frame(world: World, table: str, r: Arrays) -> pd.DataFrame:
    frame = pd.DataFrame(fact_columns(world, table, r))
    assert list(frame.columns) == list(TABLES[table].columns)
    return frame


def snapshot_days(world: World, table: str, s: int, e: int) -> np.ndarray:
    """`s` and every day in (s, e] on which the master differs from the day before."""
    if table == "products":
        return np.array([s])
    created = world.customers.created
    changes = np.unique(created[(created > s) & (created <= e)])
    if s < BLOCK_DAY <= e:
        changes = np.union1d(changes, [BLOCK_DAY])
    return np.r_[s, changes].astype(np.int64)


def master_frame(
    world: World, table: str, snaps: np.ndarray, with_business_date: bool
) -> pd.DataFrame:
    """Full snapshots of a master table, one per day in `snaps`, key-sorted within."""
    if table == "products":
        p = world.products
        kk, pp = np.nonzero(np.ones((snaps.size, p.ids.size), dtype=bool))
        frame = pd.DataFrame(
            {
                "product_id": p.ids.take(pp),
                "name": p.names.take(pp),
                "category": _CATEGORIES.take(p.category[pp]),
                "list_price": p.list_price[pp],
                "unit_cost": p.unit_cost[pp],
            }
        )
    else:
        c = world.customers
        kk, cc = np.nonzero(c.created[None, :] <= snaps[:, None])
        frame = pd.DataFrame(
            {
                "customer_id": c.ids.take(cc),
                "name": c.names.take(cc),
                "region": _REGIONS.take(c.region[cc]),
                "channel": _CHANNELS.take(c.channel[cc]),
                "created_date": as_datetimes(c.created[cc]),
                "credit_limit": c.credit_limit[cc],
                "blocked": (cc == BLOCKED_IDX) & (snaps[kk] >= BLOCK_DAY),
            }
        )
    assert list(frame.columns) == list(TABLES[table].columns)
    if with_business_date:
        frame[BUSINESS_DATE] = as_datetimes(snaps[kk])
    return frame


def prices_frame(
    world: World, d0: int, price: np.ndarray, promo: np.ndarray, s: int, e: int
) -> pd.DataFrame:
    """One month's price list (products x days from day offset d0) for the days s..e,
    day-major, product within day."""
    n_p, nd = price.shape
    dd, pp = np.divmod(np.arange(nd * n_p), n_p)
    keep = (d0 + dd >= s) & (d0 + dd <= e)
    dd, pp = dd[keep], pp[keep]
    return pd.DataFrame(
        {
            "product_id": world.products.ids.take(pp),
            "date": as_datetimes(d0 + dd),
            "list_price": world.products.list_price[pp],
            "unit_price": price[pp, dd],
            "promo": promo[pp, dd],
        }
    )
