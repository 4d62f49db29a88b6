"""Money rules compared exactly: decimals and whole cents, never binary floats.

A pulled batch holds money as float64 (that is what pandas and GX work with), but an
amount like 0.07 has no exact binary value, so `gap <= 0.01` in floats refuses some lines
that are exactly one cent off and accepts others that are a hair over. These rules turn
the amounts into what the warehouse stores (DECIMAL at the contract's scale) before they
compare, so the verdict is the one a person with a calculator reaches.

The net-amount rule, for each sales line with all four amounts present:

    gap     = |net_amount - (quantity * unit_price - discount_amount)|
    allowed = max(net_amount_tolerance, net_amount_relative_tolerance * |quantity * unit_price|)
    the line passes when gap <= allowed (inclusive)

with quantity at 3 decimals and money at 2, as loaded, so the gap is exact to 0.00001.
The absolute tolerance absorbs an ERP rounding each component to cents (default 0.01);
the relative one (default 0, off) absorbs an ERP that prices with more decimals than it
exports, where the gap grows with the line's value (0.0001 allows 0.10 on a 1,000 line).
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_FLOOR, Decimal

import numpy as np
import pandas as pd

from customer_tiering.checks import CheckResult, row_check
from customer_tiering.config import ValidationSettings
from customer_tiering.warehouses.duckdb_file import connect_duckdb

NET_AMOUNT_COLUMNS = ("quantity", "unit_price", "discount_amount", "net_amount")
# Lines beyond these fail the net-amount rule outright: no sales line is that big (the
# range rules refuse them too), and the bound keeps the query's products inside DECIMAL(38).
_MAX_QUANTITY = 1e9
_MAX_AMOUNT = 1e12

_NET_AMOUNT_GAPS = """
with typed as (
    -- rounded to the contract's scale as the load stores them, then widened
    select
        position,
        cast(cast(quantity as decimal(18, 3)) as decimal(38, 3)) as quantity,
        cast(cast(unit_price as decimal(18, 2)) as decimal(38, 2)) as unit_price,
        cast(cast(discount_amount as decimal(18, 2)) as decimal(38, 2)) as discount_amount,
        cast(cast(net_amount as decimal(18, 2)) as decimal(38, 2)) as net_amount
    from lines
),

gaps as (
    select
        position,
        abs(net_amount - (quantity * unit_price - discount_amount)) as gap,
        abs(quantity * unit_price) as gross
    from typed
)

-- gap > max(a, b) as two comparisons: greatest() would round the product to one scale
select position, cast(gap as double) as gap
from gaps
where gap > cast($tolerance as decimal(38, 5))
    and gap > cast($relative as decimal(38, 6)) * gross
"""


def tolerance_cents(tolerance: float) -> float:
    """A money tolerance in whole cents, rounded down: totals are whole cents, so
    `difference > tolerance` and `difference > floor(tolerance)` agree."""
    return float((Decimal(str(tolerance)) * 100).to_integral_value(ROUND_FLOOR))


def _floor(value: float, places: int) -> str:
    """`value` rounded down to `places` decimals, as exact decimal text (never more
    lenient than configured; finer digits cannot matter at the gap's precision)."""
    return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-places), ROUND_FLOOR))


def net_amount_consistent(
    table: str, frame: pd.DataFrame, validation: ValidationSettings, severity: str
) -> list[CheckResult]:
    """The net-amount rule (module docstring) on every line of `frame`. Lines with a
    missing or non-numeric amount are left to the not-null and type rules."""
    if not set(NET_AMOUNT_COLUMNS) <= set(frame.columns):
        return []  # expect_column_to_exist names the missing column
    amounts = pd.DataFrame(
        {c: pd.to_numeric(frame[c], errors="coerce") for c in NET_AMOUNT_COLUMNS}
    ).astype("float64")
    judged = amounts.notna().all(axis=1).to_numpy()
    too_large = (
        judged
        & (
            (amounts["quantity"].abs() >= _MAX_QUANTITY)
            | (amounts.drop(columns="quantity").abs().max(axis=1) >= _MAX_AMOUNT)
        ).to_numpy()
    )
    in_range = judged & ~too_large
    lines = amounts[in_range].assign(position=np.flatnonzero(in_range))
    tolerance = _floor(validation.net_amount_tolerance, 5)
    relative = _floor(validation.net_amount_relative_tolerance, 6)
    with connect_duckdb() as con:
        con.register("lines", lines)
        off = con.execute(_NET_AMOUNT_GAPS, {"tolerance": tolerance, "relative": relative}).df()
    failing = too_large.copy()
    failing[off["position"].to_numpy(dtype=int)] = True
    config = {"net_amount_tolerance": tolerance, "net_amount_relative_tolerance": relative}
    result = row_check(table, frame, "net_amount_consistent", severity, pd.Series(failing), config)
    if result.success:
        return [result]
    detail = (
        "net_amount differs from quantity * unit_price - discount_amount by more than"
        f" max({validation.net_amount_tolerance}, {validation.net_amount_relative_tolerance}"
        " * |quantity * unit_price|)"
        + (f"; largest gap {off['gap'].max()!s}" if len(off) else "")
        + (f"; {too_large.sum()} line(s) too large to be real" if too_large.any() else "")
    )
    return [dataclasses.replace(result, detail=detail)]


ROW_CHECKS = {"net_amount_consistent": net_amount_consistent}
